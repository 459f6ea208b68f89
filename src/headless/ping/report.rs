//! What `ping` says when it is done: the `--json` object or ping(8)'s summary.

use std::io::{self, Write};

use serde::Serialize;

use crate::headless::TcpInfoReport;
use crate::stats::{Clock, RttSummary};
use crate::units;

/// The `ping --json` object (README, "Output and exit codes"): one line, nothing else on stdout.
#[derive(Debug, Serialize)]
pub struct PingReport {
    pub target: String,
    pub protocol: &'static str,
    pub size: usize,
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    /// The TCP handshake; `null` over UDP, which has none.
    pub connect_us: Option<f64>,
    pub rtt_us: Option<RttSummary>,
    pub jitter_us: Option<f64>,
    /// UDP only: second replies to an answered probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<u64>,
    /// UDP only: replies that came after their probe was counted lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late: Option<u64>,
    /// Which clock timed the RTTs' ends: `"kernel"` (its receive timestamps) or `"user"`.
    pub clock: &'static str,
    /// Echoes in `rtt_us` timed by our own clock: every one under `"user"`, those the kernel
    /// gave no timestamp for under `"kernel"`.
    pub user_clock_echoes: u64,
    /// The p50 of the same echoes as seen by echotui: until its read returned.
    pub user_clock_p50_us: Option<f64>,
    /// TCP only: the kernel's view of the socket at the end (`null` where not available).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_info: Option<Option<TcpInfoReport>>,
}

/// The summary of ping(8): what was sent and came back, the RTT ladder and jitter, then the
/// p50 by each clock.
pub fn write_summary(out: &mut impl Write, r: &PingReport) -> io::Result<()> {
    let loss = if r.sent == 0 {
        0.0
    } else {
        100.0 * r.lost as f64 / r.sent as f64
    };
    writeln!(out, "--- {} echotui ping statistics ---", r.target)?;
    let sent = units::count(r.sent, "probe", "probes");
    write!(out, "{sent} sent, {} echoed, {loss:.1}% lost", r.received)?;
    if let (Some(duplicates), Some(late)) = (r.duplicates, r.late) {
        let duplicates = units::count(duplicates, "duplicate", "duplicates");
        write!(out, ", {duplicates}, {late} late")?;
    }
    match r.connect_us {
        Some(us) => writeln!(out, ", connect {}", units::micros(us))?,
        None => writeln!(out)?,
    }
    let Some(s) = &r.rtt_us else {
        return Ok(());
    };
    write!(out, "rtt {}", crate::headless::rtt_ladder(s))?;
    match r.jitter_us {
        Some(jitter) => writeln!(out, ", jitter {}", units::micros(jitter))?,
        None => writeln!(out)?,
    }
    writeln!(out, "{}", clocks_line(r, s.p50))
}

/// `p50: kernel 5.1µs, as seen by echotui 6.3µs: 1.2µs was our own wake-up`, or which clock
/// timed the RTTs when the kernel's did not.
fn clocks_line(r: &PingReport, p50: f64) -> String {
    if r.clock == Clock::User.name() {
        return "clock: echotui's own, without kernel receive timestamps: RTTs include our wake-up"
            .to_owned();
    }
    let seen = r.user_clock_p50_us.unwrap_or(p50);
    let mut line = format!(
        "p50: kernel {}, as seen by echotui {}: {} was our own wake-up",
        units::micros(p50),
        units::micros(seen),
        units::micros((seen - p50).max(0.0)),
    );
    if r.user_clock_echoes > 0 {
        let echoes = units::count(r.user_clock_echoes, "echo", "echoes");
        line += &format!(" ({echoes} without a kernel timestamp timed by echotui's clock)");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(clock: Clock, user_clock_echoes: u64) -> PingReport {
        PingReport {
            target: "127.0.0.1:7".into(),
            protocol: "tcp",
            size: 13,
            sent: 3,
            received: 3,
            lost: 0,
            connect_us: Some(60.0),
            rtt_us: None,
            jitter_us: None,
            duplicates: None,
            late: None,
            clock: clock.name(),
            user_clock_echoes,
            user_clock_p50_us: Some(6.3),
            tcp_info: None,
        }
    }

    #[test]
    fn the_summary_says_what_our_wake_up_cost() {
        let line = clocks_line(&report(Clock::Kernel, 0), 5.1);
        assert_eq!(
            line,
            "p50: kernel 5.1µs, as seen by echotui 6.3µs: 1.2µs was our own wake-up"
        );
        let line = clocks_line(&report(Clock::Kernel, 1), 5.1);
        assert!(line.ends_with("(1 echo without a kernel timestamp timed by echotui's clock)"));
        let line = clocks_line(&report(Clock::User, 3), 6.3);
        assert!(line.starts_with("clock: echotui's own"), "{line}");
    }
}
