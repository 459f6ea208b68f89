//! `echotui ping`: round-trip times over the echo protocol, like ping(8).
//!
//! One connection, one probe at a time, written and read on this task with nothing in
//! between: the measurement adds no hop of its own. Echoes are matched by byte offsets with
//! the same [`RttTracker`] the UI uses, so a server that splits or merges reads is fine.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::cli::{ClientOpts, PingArgs};
use crate::format;
use crate::net::{self, EventSink, ServerControl, ServerSettings};
use crate::stats::{EchoUpdate, RttStats, RttSummary, RttTracker};

/// The `ping --json` object (DESIGN §2): one line, nothing else on stdout.
#[derive(Debug, Serialize)]
pub struct PingReport {
    pub target: String,
    pub protocol: &'static str,
    pub size: usize,
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub connect_us: f64,
    pub rtt_us: Option<RttSummary>,
    pub jitter_us: Option<f64>,
}

/// How one probe ended.
enum Probe {
    Echoed(Duration),
    TimedOut,
    Mismatch,
    /// The connection ended; no later probe can be answered.
    Closed(String),
}

/// Runs the probes; exit 0 if every one was answered, 1 if any was lost.
pub async fn run(args: &PingArgs, client_opts: &ClientOpts) -> anyhow::Result<ExitCode> {
    let shutdown = CancellationToken::new();
    crate::signals::cancel_on_signals(shutdown.clone())?;
    let target = match &args.target {
        Some(target) => net::resolve(target).await?,
        None => embedded_server(&shutdown).await?,
    };
    let (mut stream, connect_time) = net::connect(target, !client_opts.nagle, args.timeout).await?;
    // Not locked: the lock guard cannot be held across the awaits below (the task may move
    // between worker threads), and one unlocked line per probe costs nothing measurable.
    let mut out = io::stdout();
    if !args.json {
        writeln!(
            out,
            "PING {target} (TCP echo): {} bytes, connected in {}",
            args.size,
            format::duration(connect_time)
        )?;
    }

    let payload: Arc<[u8]> = net::probe_payload(args.size).into();
    let mut pinger = Pinger::new(payload);
    let mut stats = RttStats::new();
    let mut sent = 0;
    let started = tokio::time::Instant::now();
    for seq in 0..args.count {
        if seq > 0 && !args.interval.is_zero() {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep_until(started + args.interval * seq as u32) => {}
            }
        }
        if shutdown.is_cancelled() {
            break;
        }
        sent += 1;
        let probe = tokio::select! {
            _ = shutdown.cancelled() => break,
            probe = pinger.probe(&mut stream, seq, args.timeout) => probe,
        };
        let line = match probe {
            Probe::Echoed(rtt) => {
                stats.record(rtt);
                format!(
                    "{} bytes from {target}: seq={seq} time={}",
                    args.size,
                    format::duration(rtt)
                )
            }
            Probe::TimedOut => format!(
                "seq={seq}: no echo within {}",
                humantime::format_duration(args.timeout)
            ),
            Probe::Mismatch => format!("seq={seq}: echo differs from what was sent (mismatch)"),
            Probe::Closed(reason) => {
                eprintln!(
                    "echotui ping: connection to {target} {reason} after {} probes",
                    seq
                );
                break;
            }
        };
        if !args.json {
            writeln!(out, "{line}")?;
        }
    }

    let report = PingReport {
        target: target.to_string(),
        protocol: "tcp",
        size: args.size,
        sent,
        received: stats.count(),
        lost: sent - stats.count(),
        connect_us: connect_time.as_secs_f64() * 1e6,
        rtt_us: stats.summary(),
        jitter_us: stats.jitter_us(),
    };
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

/// Starts an echo server on a free loopback port (never 12345, so it cannot clash).
async fn embedded_server(shutdown: &CancellationToken) -> anyhow::Result<SocketAddr> {
    let listener = net::listen(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let settings = ServerSettings {
        report_reads: false,
        ..ServerSettings::default()
    };
    tokio::spawn(net::server::run(
        listener,
        settings,
        ServerControl::new(net::DEFAULT_READ_SIZE),
        EventSink::discard(),
        shutdown.clone(),
    ));
    Ok(addr)
}

/// Sends probes and matches their echoes.
struct Pinger {
    payload: Arc<[u8]>,
    tracker: RttTracker,
    buf: Vec<u8>,
    updates: Vec<EchoUpdate>,
}

impl Pinger {
    fn new(payload: Arc<[u8]>) -> Self {
        Self {
            buf: vec![0; payload.len().clamp(1024, 64 * 1024)],
            payload,
            tracker: RttTracker::default(),
            updates: Vec::new(),
        }
    }

    /// One probe: write it, then read until its last byte is back or the timeout passes.
    /// A late echo of an earlier probe is consumed here and ignored (it was counted lost).
    async fn probe(&mut self, stream: &mut TcpStream, seq: u64, timeout: Duration) -> Probe {
        let sent_at = Instant::now();
        self.tracker.sent(seq, self.payload.clone(), sent_at);
        if let Err(err) = stream.write_all(&self.payload).await {
            return Probe::Closed(net::CloseReason::from_io(&err).to_string());
        }
        let deadline = tokio::time::Instant::from_std(sent_at + timeout);
        loop {
            let read = match tokio::time::timeout_at(deadline, stream.read(&mut self.buf)).await {
                Ok(read) => read,
                Err(_) => return Probe::TimedOut,
            };
            let at = Instant::now();
            let n = match read {
                Ok(0) => return Probe::Closed(net::CloseReason::PeerClosed.to_string()),
                Ok(n) => n,
                Err(err) => return Probe::Closed(net::CloseReason::from_io(&err).to_string()),
            };
            self.tracker.received(&self.buf[..n], at, &mut self.updates);
            for update in self.updates.drain(..) {
                match update {
                    EchoUpdate::Echoed { id, rtt } if id == seq => return Probe::Echoed(rtt),
                    EchoUpdate::Mismatch { id, .. } if id == seq => return Probe::Mismatch,
                    _ => {}
                }
            }
        }
    }
}

fn write_summary(out: &mut impl Write, r: &PingReport) -> io::Result<()> {
    let loss = if r.sent == 0 {
        0.0
    } else {
        100.0 * r.lost as f64 / r.sent as f64
    };
    writeln!(out, "--- {} echotui ping statistics ---", r.target)?;
    writeln!(
        out,
        "{} probes sent, {} echoed, {:.1}% lost, connect {}",
        r.sent,
        r.received,
        loss,
        format::micros(r.connect_us)
    )?;
    if let Some(s) = &r.rtt_us {
        let ladder = [s.min, s.mean, s.p50, s.p90, s.p99, s.p999, s.max, s.stddev]
            .map(format::micros)
            .join("/");
        write!(out, "rtt min/mean/p50/p90/p99/p99.9/max/stddev = {ladder}")?;
        match r.jitter_us {
            Some(jitter) => writeln!(out, ", jitter {}", format::micros(jitter))?,
            None => writeln!(out)?,
        }
    }
    Ok(())
}
