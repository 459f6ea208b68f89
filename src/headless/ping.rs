//! `echotui ping`: round-trip times over the echo protocol, like ping(8).
//!
//! One probe at a time, written and read on this task with nothing in between: the
//! measurement adds no hop of its own.
//! - Over TCP, echoes are matched by byte offsets with the same [`RttTracker`] the UI uses,
//!   so a server that splits or merges reads is fine.
//! - Over UDP, each probe carries a per-run nonce and its sequence number, so a reply is
//!   matched exactly ([`ProbeWindow`], shared with `bench --udp`): a foreign datagram is
//!   ignored, a second reply is counted as a duplicate and a reply that arrives after its
//!   probe timed out as late, never as an RTT.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;

use crate::cli::{ClientOpts, PingArgs, ServerOpts};
use crate::net::{self, Transport, udp::MAX_DATAGRAM};
use crate::session_log::SessionLog;
use crate::stats::{EchoUpdate, ProbeReply, ProbeWindow, RttStats, RttSummary, RttTracker};
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
}

/// How one probe ended.
enum Probe {
    Echoed(Duration),
    TimedOut,
    Mismatch,
    /// UDP: the target answered with ICMP port unreachable (or another error).
    Refused(String),
    /// TCP: the connection ended; no later probe can be answered.
    Closed(String),
}

impl Probe {
    /// The probe's outcome as the session log records it (`None`: the connection ended).
    fn outcome(&self, seq: u64) -> Option<EchoUpdate> {
        Some(match self {
            Probe::Echoed(rtt) => EchoUpdate::Echoed { id: seq, rtt: *rtt },
            Probe::TimedOut | Probe::Refused(_) => EchoUpdate::Lost { id: seq },
            Probe::Mismatch => EchoUpdate::Mismatch {
                id: seq,
                echoed: Vec::new(),
            },
            Probe::Closed(_) => return None,
        })
    }
}

/// Runs the probes; exit 0 if every one was answered, 1 if any was lost.
pub async fn run(
    args: &PingArgs,
    server_opts: &ServerOpts,
    client_opts: &ClientOpts,
    transport: Transport,
    mut log: Option<SessionLog>,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    if transport == Transport::Udp {
        super::check_udp_probe_size("ping", args.size)?;
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
    // Not locked: the lock guard cannot be held across the awaits below (the task may move
    // between worker threads), and one unlocked line per probe costs nothing measurable.
    let mut out = io::stdout();
    let (mut pinger, connect_time) = match transport {
        Transport::Tcp => {
            let (stream, took) = net::connect(via, !client_opts.nagle, args.timeout).await?;
            let pinger = TcpPinger::new(stream, args.size, args.timeout);
            (Pinger::Tcp(pinger), Some(took))
        }
        Transport::Udp => {
            let pinger = UdpPinger::open(via, args.size, args.timeout).await?;
            (Pinger::Udp(pinger), None)
        }
    };
    let size = units::count(args.size as u64, "byte", "bytes");
    if !args.json {
        let handshake = connect_time
            .map(|took| format!(", connected in {}", units::duration(took)))
            .unwrap_or_default();
        let link = if impairments.is_none() {
            String::new()
        } else {
            format!(", through an impaired link: {impairments}")
        };
        writeln!(
            out,
            "PING {target} ({transport} echo): {size}{handshake}{link}"
        )?;
    }

    let mut stats = RttStats::new();
    let mut sent = 0;
    let started = tokio::time::Instant::now();
    // Warm-up probes come first and count for nothing; then `count` measured ones.
    for seq in 0..args.warmup + args.count {
        if seq > 0 && !args.interval.is_zero() {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep_until(started + args.interval * seq as u32) => {}
            }
        }
        if shutdown.is_cancelled() {
            break;
        }
        let warming_up = seq < args.warmup;
        if !warming_up {
            sent += 1;
        }
        let probe = tokio::select! {
            _ = shutdown.cancelled() => break,
            probe = pinger.probe(seq) => probe,
        };
        if let Some(log) = &mut log {
            log.sent(seq, pinger.payload());
            if let Some(outcome) = probe.outcome(seq) {
                log.echo(&outcome);
            }
        }
        let line = match probe {
            Probe::Echoed(rtt) => {
                if !warming_up {
                    stats.record(rtt);
                }
                let time = units::duration(rtt);
                let note = if warming_up {
                    " (warm-up, not counted)"
                } else {
                    ""
                };
                format!("{size} from {target}: seq={seq} time={time}{note}")
            }
            Probe::TimedOut => {
                let timeout = humantime::format_duration(args.timeout);
                format!("seq={seq}: no echo within {timeout}")
            }
            Probe::Mismatch => format!("seq={seq}: echo differs from what was sent (mismatch)"),
            Probe::Refused(reason) => format!("seq={seq}: {reason}"),
            Probe::Closed(reason) => {
                let probes = units::count(seq, "probe", "probes");
                eprintln!("echotui ping: connection to {target} {reason} after {probes}");
                break;
            }
        };
        if !args.json {
            writeln!(out, "{line}")?;
        }
    }

    let (duplicates, late) = match &pinger {
        Pinger::Tcp(_) => (None, None),
        Pinger::Udp(udp) => (Some(udp.duplicates), Some(udp.late)),
    };
    let report = PingReport {
        target: target.to_string(),
        protocol: match transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        },
        size: args.size,
        sent,
        received: stats.count(),
        lost: sent - stats.count(),
        // To the nanosecond, as the RTTs are (see `RttStats::summary`).
        connect_us: connect_time.map(units::json_micros),
        rtt_us: stats.summary(),
        jitter_us: stats.jitter_us(),
        duplicates,
        late,
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

/// A prober for the transport in use.
enum Pinger {
    Tcp(TcpPinger),
    Udp(UdpPinger),
}

impl Pinger {
    /// The bytes of the probe sent last.
    fn payload(&self) -> &[u8] {
        match self {
            Pinger::Tcp(tcp) => &tcp.payload,
            Pinger::Udp(udp) => udp.window.probe(),
        }
    }

    /// Probe `seq`, the next one: probes are numbered from 0, one call each.
    async fn probe(&mut self, seq: u64) -> Probe {
        match self {
            Pinger::Tcp(tcp) => tcp.probe(seq).await,
            // The window numbers its probes the same way (as 32 bits on the wire).
            Pinger::Udp(udp) => udp.probe().await,
        }
    }
}

/// Sends probes over one TCP connection and matches their echoes by byte offsets.
struct TcpPinger {
    stream: TcpStream,
    payload: Arc<[u8]>,
    tracker: RttTracker,
    buf: Vec<u8>,
    updates: Vec<EchoUpdate>,
    /// How long each probe waits for its echo.
    timeout: Duration,
}

impl TcpPinger {
    fn new(stream: TcpStream, size: usize, timeout: Duration) -> Self {
        Self {
            stream,
            timeout,
            buf: vec![0; size.clamp(1024, 64 * 1024)],
            payload: net::probe_payload(size).into(),
            tracker: RttTracker::default(),
            updates: Vec::new(),
        }
    }

    /// One probe: write it, then read until its last byte is back or the timeout passes.
    /// A late echo of an earlier probe is consumed here and ignored (it was counted lost).
    async fn probe(&mut self, seq: u64) -> Probe {
        let sent_at = Instant::now();
        self.tracker.sent(seq, self.payload.clone(), sent_at);
        if let Err(err) = self.stream.write_all(&self.payload).await {
            return Probe::Closed(net::CloseReason::from_io(&err).to_string());
        }
        let deadline = tokio::time::Instant::from_std(sent_at + self.timeout);
        loop {
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut self.buf)).await;
            let Ok(read) = read else {
                return Probe::TimedOut;
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

/// Sends numbered probes over UDP and matches replies exactly (see the module docs).
struct UdpPinger {
    socket: UdpSocket,
    window: ProbeWindow,
    buf: Vec<u8>,
    duplicates: u64,
    late: u64,
}

impl UdpPinger {
    async fn open(target: SocketAddr, size: usize, timeout: Duration) -> anyhow::Result<Self> {
        let socket = net::udp::connect(target).await?;
        let window = ProbeWindow::new(fastrand::u32(..), net::probe_payload(size), timeout);
        Ok(Self {
            socket,
            window,
            buf: vec![0; MAX_DATAGRAM + 1],
            duplicates: 0,
            late: 0,
        })
    }

    /// One probe: send it, then read until its reply or its timeout. Replies to earlier
    /// probes are counted as duplicates or late, never as this probe's echo.
    async fn probe(&mut self) -> Probe {
        let (seq, probe) = self.window.send(Instant::now());
        if let Err(err) = self.socket.send(probe).await {
            self.window.lose(seq);
            return Probe::Refused(format!("cannot send: {}", net::describe(&err)));
        }
        // Every earlier probe was answered or lost before this one was sent, so this is the
        // only probe awaited: the next expiry is its timeout, and an echo is its echo.
        while let Some(expiry) = self.window.next_expiry() {
            let recv = self.socket.recv(&mut self.buf);
            let received = tokio::time::timeout_at(expiry.into(), recv).await;
            let at = Instant::now();
            let n = match received {
                Err(_elapsed) => {
                    self.window.expire(at);
                    continue;
                }
                Ok(Err(err)) => {
                    self.window.lose(seq);
                    return Probe::Refused(net::udp::explain_error(&err));
                }
                Ok(Ok(n)) => n,
            };
            match self.window.reply(&self.buf[..n], at) {
                ProbeReply::Echoed(rtt) => return Probe::Echoed(rtt),
                ProbeReply::Mismatch => return Probe::Mismatch,
                ProbeReply::Duplicate => self.duplicates += 1,
                ProbeReply::Late => self.late += 1,
                // Another run's datagram, another program's: not ours, ignore it.
                ProbeReply::Foreign => {}
            }
        }
        Probe::TimedOut
    }
}

/// The summary of ping(8): what was sent and came back, then the RTT ladder and jitter.
fn write_summary(out: &mut impl Write, r: &PingReport) -> io::Result<()> {
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
    if let Some(s) = &r.rtt_us {
        write!(out, "rtt {}", super::rtt_ladder(s))?;
        match r.jitter_us {
            Some(jitter) => writeln!(out, ", jitter {}", units::micros(jitter))?,
            None => writeln!(out)?,
        }
    }
    Ok(())
}
