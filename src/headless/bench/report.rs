//! What a bench says when it is done: the `--json` object or a table, errors by kind, and
//! the exit code.

use std::fmt;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::cli::BenchArgs;
use crate::headless::TcpInfoReport;
use crate::net::Transport;
use crate::stats::{Clock, ClockCount, RttStats, RttSummary};
use crate::units;

/// The `bench --json` object (README, "Measuring"): one line, nothing else on stdout. Figures have
/// three decimals at most (times in µs: to the nanosecond).
#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub target: String,
    pub protocol: &'static str,
    pub connections: usize,
    pub size: usize,
    pub pipeline: usize,
    /// Measured length of the run (after any warm-up).
    pub duration_s: f64,
    /// Messages echoed complete and equal.
    pub messages: u64,
    /// Bytes of those messages, one direction.
    pub bytes: u64,
    pub msgs_per_s: f64,
    pub mib_per_s: f64,
    pub rtt_us: Option<RttSummary>,
    /// Mean difference of consecutive RTTs on each connection; `null` below two RTTs.
    pub jitter_us: Option<f64>,
    pub errors: u64,
    /// Which clock timed the RTTs' ends: `"kernel"` (its receive timestamps) or `"user"`.
    pub clock: &'static str,
    /// Echoes in `rtt_us` timed by our own clock (all of them under `"user"`).
    pub user_clock_echoes: u64,
    /// TCP only: the kernel's view of the first connection's socket at the end (`null` where
    /// not available).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_info: Option<Option<TcpInfoReport>>,
}

/// What a bench measured, merged over its connections.
#[derive(Debug)]
pub struct Measured {
    pub stats: RttStats,
    pub clocks: ClockCount,
    /// The clock the sockets' reads were set to be timed by.
    pub in_force: Clock,
    /// TCP: the first connection's socket at the end; `None` over UDP.
    pub tcp_info: Option<Option<TcpInfoReport>>,
}

/// Errors by kind, in the order first seen.
#[derive(Debug, Default)]
pub struct ErrorTally {
    kinds: Vec<(String, u64)>,
}

impl ErrorTally {
    /// Counts `n` more errors of kind `what` (none: nothing to say, no entry).
    pub fn add(&mut self, what: &str, n: u64) {
        if n == 0 {
            return;
        }
        match self.kinds.iter_mut().find(|(kind, _)| kind == what) {
            Some((_, count)) => *count += n,
            None => self.kinds.push((what.to_owned(), n)),
        }
    }

    /// Errors of every kind: the `errors` of the report.
    pub fn total(&self) -> u64 {
        self.kinds.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for ErrorTally {
    /// `13 (10 × echo differs from what was sent, 3 × connection reset)`, or `0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.total())?;
        for (i, (what, n)) in self.kinds.iter().enumerate() {
            let open = if i == 0 { " (" } else { ", " };
            write!(f, "{open}{n} × {what}")?;
        }
        if !self.kinds.is_empty() {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Prints the report (a table, or the JSON object) and picks the exit code: 0 if echoes
/// were measured and nothing went wrong, 1 otherwise.
pub fn report(
    args: &BenchArgs,
    target: SocketAddr,
    transport: Transport,
    measured: &Measured,
    elapsed: Duration,
    errors: &ErrorTally,
) -> anyhow::Result<ExitCode> {
    let stats = &measured.stats;
    let messages = stats.count();
    let bytes = messages * args.size as u64;
    let seconds = elapsed.as_secs_f64();
    let per_second = |n: f64| {
        let rate = if seconds > 0.0 { n / seconds } else { 0.0 };
        units::json_figure(rate)
    };
    let report = BenchReport {
        target: target.to_string(),
        protocol: match transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        },
        connections: args.connections,
        size: args.size,
        pipeline: args.pipeline,
        duration_s: units::json_figure(seconds),
        messages,
        bytes,
        msgs_per_s: per_second(messages as f64),
        mib_per_s: per_second(bytes as f64 / (1 << 20) as f64),
        rtt_us: stats.summary(),
        jitter_us: stats.jitter_us(),
        errors: errors.total(),
        clock: measured.clocks.clock(measured.in_force).name(),
        user_clock_echoes: measured.clocks.user,
        tcp_info: measured.tcp_info,
    };
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
        for (what, n) in &errors.kinds {
            eprintln!("echotui bench: {n} × {what}");
        }
    } else {
        write_table(&mut out, &report, errors)?;
    }
    if report.messages == 0 && report.errors == 0 {
        // Nothing failed, yet nothing was measured: say why the exit code is 1.
        eprintln!("echotui bench: no echo came back from {target}");
    }
    Ok(if report.errors == 0 && report.messages > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The report for people: one `name value` row per figure.
fn write_table(out: &mut impl Write, r: &BenchReport, errors: &ErrorTally) -> io::Result<()> {
    let rows = [
        (
            "target",
            format!("{} ({} echo)", r.target, r.protocol.to_uppercase()),
        ),
        ("connections", r.connections.to_string()),
        ("size", format!("{} B", r.size)),
        ("pipeline", r.pipeline.to_string()),
        ("duration", units::micros(r.duration_s * 1e6)),
        ("messages", r.messages.to_string()),
        ("bytes", units::bytes(r.bytes)),
        ("msgs/s", format!("{:.1}", r.msgs_per_s)),
        ("MiB/s", format!("{:.2}", r.mib_per_s)),
        (
            "rtt",
            r.rtt_us
                .as_ref()
                .map_or_else(|| "no echoes".to_owned(), crate::headless::rtt_ladder),
        ),
        (
            "jitter",
            r.jitter_us.map_or_else(|| "-".to_owned(), units::micros),
        ),
        ("clock", clock_words(r)),
        ("errors", errors.to_string()),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<12} {value}")?;
    }
    Ok(())
}

/// Which clock timed the RTTs, in the table's words.
fn clock_words(r: &BenchReport) -> String {
    match (r.clock, r.user_clock_echoes) {
        ("kernel", 0) => "kernel (receive timestamps)".to_owned(),
        ("kernel", n) => format!(
            "kernel (receive timestamps; {} without one timed by echotui's clock)",
            units::count(n, "echo", "echoes")
        ),
        _ => "echotui's own (our wake-up included)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(report: &BenchReport, errors: &ErrorTally) -> String {
        let mut out = Vec::new();
        write_table(&mut out, report, errors).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_table_shows_every_figure_and_says_when_there_is_none() {
        let mut report = BenchReport {
            target: "127.0.0.1:7".to_owned(),
            protocol: "udp",
            connections: 1,
            size: 13,
            pipeline: 1,
            duration_s: 1.5,
            messages: 0,
            bytes: 0,
            msgs_per_s: 0.0,
            mib_per_s: 0.0,
            rtt_us: None,
            jitter_us: None,
            errors: 0,
            clock: "kernel",
            user_clock_echoes: 0,
            tcp_info: None,
        };
        let text = table(&report, &ErrorTally::default());
        assert!(
            text.starts_with("target       127.0.0.1:7 (UDP echo)\n"),
            "{text}"
        );
        assert!(text.contains("\nduration     1.50s\n"), "{text}");
        assert!(text.contains("\nrtt          no echoes\n"), "{text}");
        assert!(text.contains("\njitter       -\n"), "{text}");
        assert!(
            text.contains("\nclock        kernel (receive timestamps)\n"),
            "{text}"
        );
        assert!(text.ends_with("\nerrors       0\n"), "{text}");
        report.jitter_us = Some(87.4);
        assert!(table(&report, &ErrorTally::default()).contains("\njitter       87µs\n"));
    }

    #[test]
    fn errors_are_tallied_by_kind() {
        let mut errors = ErrorTally::default();
        assert_eq!(errors.to_string(), "0");
        errors.add("connection reset", 1);
        errors.add("echo differs from what was sent", 0);
        errors.add("echo differs from what was sent", 10);
        errors.add("connection reset", 2);
        assert_eq!(errors.total(), 13);
        assert_eq!(
            errors.to_string(),
            "13 (3 × connection reset, 10 × echo differs from what was sent)"
        );
    }
}
