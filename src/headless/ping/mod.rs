//! `echotui ping`: round-trip times over the echo protocol, like ping(8).
//!
//! One probe at a time, on a thread of its own with a blocking socket (`pinger`): the
//! measurement adds no hop of its own. Each RTT runs from just before the write to the
//! kernel's arrival time of the echo's last byte ([`crate::net::stamp`]), as ping(8) takes it
//! from the kernel, so it does not include the time our process took to wake up; that time is
//! measured too, and the summary says what it was.
//! - Over TCP, echoes are matched by byte offsets with the same tracker the UI uses, so a
//!   server that splits or merges reads is fine.
//! - Over UDP, each probe carries a per-run nonce and its sequence number, so a reply is
//!   matched exactly (`pinger::UdpPinger`).

mod pinger;
mod report;

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use self::pinger::{Pinger, Probe, TcpPinger, UdpPinger, WAKE_EVERY};
use self::report::write_summary;
use crate::cli::{ClientOpts, PingArgs, ServerOpts};
use crate::net::{self, Transport, sockinfo::congestion};
use crate::session_log::SessionLog;
use crate::stats::{ClockCount, RttStats};
use crate::units;

pub use self::report::PingReport;

/// Runs the probes; exit 0 if every one was answered, 1 if any was lost.
pub async fn run(
    args: &PingArgs,
    server_opts: &ServerOpts,
    client_opts: &ClientOpts,
    transport: Transport,
    log: Option<SessionLog>,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    if transport == Transport::Udp {
        super::check_udp_probe_size("ping", args.size)?;
        super::refuse_congestion_over_udp("ping", client_opts)?;
    }
    let target = match &args.target {
        Some(target) => net::resolve(target).await?,
        None => {
            let behaviour = server_opts.single()?;
            super::embedded_server(&shutdown, 1, transport, behaviour, server_opts.backlog)
                .await?
                .addr
        }
    };
    // With impairments, probes go through the proxy; the report still names the target.
    let impairments = args.impair.impairments();
    let via = match impairments.is_none() {
        true => target,
        false => {
            net::impair::start(target, impairments, &shutdown)
                .await?
                .addr
        }
    };
    let clock = client_opts.clock;
    let (pinger, connect_time) = match transport {
        Transport::Tcp => {
            let (stream, took) = net::connect(via, !client_opts.nagle, args.timeout).await?;
            let stream = stream.into_std()?;
            if let Some(algorithm) = client_opts.congestion {
                use std::os::fd::AsFd;
                congestion::set(stream.as_fd(), algorithm).map_err(anyhow::Error::msg)?;
            }
            let pinger = TcpPinger::new(stream, args.size, args.timeout, clock)?;
            (Pinger::Tcp(pinger), Some(took))
        }
        Transport::Udp => {
            let socket = net::udp::connect(via).await?.into_std()?;
            let pinger = UdpPinger::new(socket, args.size, args.timeout, clock)?;
            (Pinger::Udp(pinger), None)
        }
    };
    if !args.json {
        let size = units::count(args.size as u64, "byte", "bytes");
        let handshake = connect_time
            .map(|took| format!(", connected in {}", units::duration(took)))
            .unwrap_or_default();
        let link = if impairments.is_none() {
            String::new()
        } else {
            format!(", through an impaired link: {impairments}")
        };
        println!("PING {target} ({transport} echo): {size}{handshake}{link}");
    }
    let plan = Plan {
        target: target.to_string(),
        args: args.clone(),
    };
    let probing = shutdown.clone();
    let (measured, pinger) = tokio::task::spawn_blocking(move || {
        let mut pinger = pinger;
        // The pinger's socket asked for timestamps already; whether the kernel is slow to
        // give them or cannot, the echoes timed by our clock are counted either way.
        if clock == crate::stats::Clock::Kernel {
            crate::net::stamp::wait_until_stamping();
        }
        let measured = plan.probe_all(&mut pinger, log, &probing);
        measured.map(|measured| (measured, pinger))
    })
    .await
    .map_err(|join| anyhow::anyhow!("internal error: {join}"))??;

    let report = measured.report(&pinger, args, target.to_string(), connect_time);
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write_summary(&mut out, &report)?;
    }
    shutdown.cancel();
    Ok(if report.lost == 0 && report.sent > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What the probing thread needs to know.
struct Plan {
    target: String,
    args: PingArgs,
}

/// What the probes measured.
struct Measured {
    sent: u64,
    /// RTTs, each ending at the kernel's arrival time where there was one.
    stats: RttStats,
    /// The same echoes as seen by echotui (until its read returned).
    user: RttStats,
    clocks: ClockCount,
}

impl Plan {
    /// Sends the warm-up probes (counted for nothing), then `count` measured ones, a line
    /// each unless `--json`, until done or `shutdown`.
    fn probe_all(
        &self,
        pinger: &mut Pinger,
        mut log: Option<SessionLog>,
        shutdown: &CancellationToken,
    ) -> io::Result<Measured> {
        let args = &self.args;
        let mut out = io::stdout().lock();
        let size = units::count(args.size as u64, "byte", "bytes");
        let mut measured = Measured {
            sent: 0,
            stats: RttStats::precise(),
            user: RttStats::precise(),
            clocks: ClockCount::default(),
        };
        let started = Instant::now();
        for seq in 0..args.warmup + args.count {
            if seq > 0 && !args.interval.is_zero() {
                let due = u32::try_from(seq)
                    .ok()
                    .and_then(|n| started.checked_add(args.interval.checked_mul(n)?));
                if !sleep_until(due, shutdown) {
                    break;
                }
            }
            if shutdown.is_cancelled() {
                break;
            }
            let warming_up = seq < args.warmup;
            if !warming_up {
                measured.sent += 1;
            }
            let Some(probe) = pinger.probe(seq, shutdown) else {
                break;
            };
            if let Some(log) = &mut log {
                log.sent(seq, pinger.payload());
                if let Some(outcome) = probe.outcome(seq) {
                    log.echo(&outcome);
                }
            }
            let line = match probe {
                Probe::Echoed(echo) => {
                    if !warming_up {
                        measured.stats.record(echo.rtt);
                        measured.user.record(echo.user);
                        measured.clocks.record(echo.clock, 1);
                    }
                    let time = units::duration(echo.rtt);
                    let note = if warming_up {
                        " (warm-up, not counted)"
                    } else {
                        ""
                    };
                    format!("{size} from {}: seq={seq} time={time}{note}", self.target)
                }
                Probe::TimedOut => {
                    let timeout = humantime::format_duration(args.timeout);
                    format!("seq={seq}: no echo within {timeout}")
                }
                Probe::Mismatch => format!("seq={seq}: echo differs from what was sent (mismatch)"),
                Probe::Refused(reason) => format!("seq={seq}: {reason}"),
                Probe::Closed(reason) => {
                    let probes = units::count(seq, "probe", "probes");
                    eprintln!(
                        "echotui ping: connection to {} {reason} after {probes}",
                        self.target
                    );
                    break;
                }
            };
            if !args.json {
                writeln!(out, "{line}")?;
            }
        }
        if let Some(log) = &mut log {
            log.flush()?;
        }
        Ok(measured)
    }
}

/// Sleeps until `due` (`None`: further than a clock can say), looking at `shutdown` at least
/// every [`WAKE_EVERY`]; `false` if it was cancelled.
fn sleep_until(due: Option<Instant>, shutdown: &CancellationToken) -> bool {
    loop {
        if shutdown.is_cancelled() {
            return false;
        }
        let left = due.map_or(WAKE_EVERY, |due| {
            due.saturating_duration_since(Instant::now())
        });
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(WAKE_EVERY));
    }
}

impl Measured {
    /// The report of a run with `pinger` to `target`.
    fn report(
        &self,
        pinger: &Pinger,
        args: &PingArgs,
        target: String,
        connect_time: Option<Duration>,
    ) -> PingReport {
        let (duplicates, late) = pinger.strays().unzip();
        let received = self.stats.count();
        PingReport {
            target,
            protocol: match pinger {
                Pinger::Tcp(_) => "tcp",
                Pinger::Udp(_) => "udp",
            },
            size: args.size,
            sent: self.sent,
            received,
            lost: self.sent - received,
            // To the nanosecond, as the RTTs are (see `RttStats::summary`).
            connect_us: connect_time.map(units::json_micros),
            rtt_us: self.stats.summary(),
            jitter_us: self.stats.jitter_us(),
            duplicates,
            late,
            clock: self.clocks.clock(pinger.clock()).name(),
            user_clock_echoes: self.clocks.user,
            user_clock_p50_us: self.user.summary().map(|s| s.p50),
            tcp_info: pinger
                .tcp_info()
                .map(|info| info.ok().as_ref().map(super::TcpInfoReport::from)),
        }
    }
}
