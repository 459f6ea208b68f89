//! `echotui serve --headless`: one log line per event, a summary on Ctrl-C/SIGTERM/SIGHUP.
//!
//! Lines go to a buffer flushed on a short tick, so a slow stdout (a pipe, a terminal) costs
//! one write per tick instead of one per read, and logging never throttles echoing.

use std::collections::HashSet;
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{DateTime, Local, SecondsFormat};
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cli::{ServeArgs, ServerOpts};
use crate::net::{
    self, CloseReason, EventSink, Limits, NetEvent, ServerControl, ServerEvent, ServerEventKind,
    ServerSettings, Transport,
};
use crate::text::sanitize;

/// How often buffered log lines reach stdout.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Events that may wait for the logger before the server starts dropping them (and says so).
const EVENT_QUEUE: usize = 64 * 1024;

/// Binds the listen address for `transport` and starts the server on it; returns the bound
/// address and the server task. Prints a notice on stderr when the server is reachable from
/// the network: exposing it is the user's explicit choice, and it should look like one.
pub async fn start(
    listen: &str,
    transport: Transport,
    settings: ServerSettings,
    control: ServerControl,
    events: EventSink,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let addr = net::resolve(listen).await?;
    let (bound, task) = match transport {
        Transport::Tcp => {
            let listener = net::listen(addr).await?;
            let bound = listener.local_addr()?;
            let task = net::server::run(listener, settings, control, events, shutdown);
            (bound, tokio::spawn(task))
        }
        Transport::Udp => {
            let socket = net::listen_udp(addr).await?;
            let bound = socket.local_addr()?;
            let task = net::udp::run(socket, settings, control, events, shutdown);
            (bound, tokio::spawn(task))
        }
    };
    if !net::is_loopback(&addr) {
        eprintln!(
            "notice: listening on {bound} ({transport}): the server is reachable from the network"
        );
    }
    Ok((bound, task))
}

/// The limits `serve` was asked for.
pub fn limits(args: &ServeArgs) -> Limits {
    Limits {
        max_conns: args.max_conns as usize,
        max_per_ip: args.max_per_ip as usize,
        idle_timeout: (!args.idle_timeout.is_zero()).then_some(args.idle_timeout),
        write_stall: args.write_stall,
        udp_replies_per_sec: args.udp_rate,
    }
}

/// Runs the server and logs until a signal; exit 0.
pub async fn run(
    args: &ServeArgs,
    server_opts: &ServerOpts,
    transport: Transport,
) -> anyhow::Result<ExitCode> {
    let shutdown = CancellationToken::new();
    crate::signals::cancel_on_signals(shutdown.clone())?;
    let settings = ServerSettings {
        report_reads: !args.quiet,
        limits: limits(args),
    };
    let control = ServerControl::new(server_opts.read_size);
    let (sink, mut events) = net::event::channel(EVENT_QUEUE);
    let (listen, server) = start(
        &args.listen,
        transport,
        settings,
        control,
        sink,
        shutdown.clone(),
    )
    .await?;

    let mut log = Log::new(args.json);
    log.line(&Line::Listening {
        listen,
        transport,
        read_size: server_opts.read_size,
    });
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = flush.tick() => log.flush()?,
            event = events.recv() => match event {
                Some(event) => log.event(event),
                None => break,
            },
        }
    }
    // The server finishes its connections (they see the shutdown) before the summary.
    let _ = server.await;
    while let Some(event) = events.try_recv() {
        log.event(event);
    }
    log.summary(events.dropped());
    log.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// What one log line says.
enum Line<'a> {
    Listening {
        listen: SocketAddr,
        transport: Transport,
        read_size: usize,
    },
    Server(&'a ServerEvent),
    AcceptFailed {
        at: DateTime<Local>,
        reason: &'a str,
    },
}

/// The log: formatting (text or JSON) plus the running totals for the summary.
struct Log {
    json: bool,
    out: BufWriter<io::Stdout>,
    started: Instant,
    open: HashSet<u64>,
    peak: usize,
    accepted: u64,
    rejected: u64,
    /// UDP datagrams not answered (reflection guard, rate limit).
    dropped: u64,
    reads: u64,
    bytes: u64,
}

impl Log {
    fn new(json: bool) -> Self {
        Self {
            json,
            out: BufWriter::with_capacity(64 * 1024, io::stdout()),
            started: Instant::now(),
            open: HashSet::new(),
            peak: 0,
            accepted: 0,
            rejected: 0,
            dropped: 0,
            reads: 0,
            bytes: 0,
        }
    }

    fn event(&mut self, event: NetEvent) {
        match &event {
            NetEvent::Server(server_event) => {
                self.count(server_event);
                self.line(&Line::Server(server_event));
            }
            NetEvent::AcceptFailed { at, reason } => {
                self.line(&Line::AcceptFailed { at: *at, reason })
            }
            NetEvent::Client(_) => {}
        }
    }

    fn count(&mut self, event: &ServerEvent) {
        match &event.kind {
            ServerEventKind::Connected => {
                self.accepted += 1;
                self.open.insert(event.conn);
                self.peak = self.peak.max(self.open.len());
            }
            ServerEventKind::Read { len, .. } => {
                self.reads += 1;
                self.bytes += *len as u64;
            }
            ServerEventKind::Closed { .. } => {
                self.open.remove(&event.conn);
            }
            ServerEventKind::Rejected { .. } => self.rejected += 1,
            ServerEventKind::Datagram { len, .. } => {
                self.reads += 1;
                self.bytes += *len as u64;
                self.open.insert(event.conn);
                self.peak = self.peak.max(self.open.len());
            }
            ServerEventKind::Dropped { .. } => self.dropped += 1,
            ServerEventKind::Stalled { .. } | ServerEventKind::Unstalled => {}
        }
    }

    fn line(&mut self, line: &Line) {
        let written = if self.json {
            let value = json_line(line);
            serde_json::to_writer(&mut self.out, &value)
                .map_err(io::Error::from)
                .and_then(|()| writeln!(self.out))
        } else {
            writeln!(self.out, "{}", text_line(line))
        };
        // stdout gone (a closed pipe): nothing left to log to, but keep echoing.
        let _ = written;
    }

    fn summary(&mut self, dropped: u64) {
        let uptime = self.started.elapsed().as_secs_f64();
        if self.json {
            let value = json!({
                "event": "summary", "uptime_s": uptime, "accepted": self.accepted,
                "peak_connections": self.peak, "rejected": self.rejected, "reads": self.reads,
                "bytes": self.bytes, "unanswered_datagrams": self.dropped,
                "events_not_logged": dropped,
            });
            let _ = serde_json::to_writer(&mut self.out, &value);
            let _ = writeln!(self.out);
        } else {
            let _ = writeln!(
                self.out,
                "summary: {:.1}s up, {} connections (peak {} at once), {} turned away, {} reads, {} echoed, {} datagrams unanswered, {} events not logged",
                uptime,
                self.accepted,
                self.peak,
                self.rejected,
                self.reads,
                crate::units::bytes(self.bytes),
                self.dropped,
                dropped
            );
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.out.flush() {
            // A reader that went away is not our error; anything else is.
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }
}

/// RFC 3339 with microseconds, the `ts` of every line.
fn timestamp(at: &DateTime<Local>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, false)
}

fn text_line(line: &Line) -> String {
    match line {
        Line::Listening {
            listen,
            transport,
            read_size,
        } => {
            format!(
                "{} listening on {listen} ({transport} echo, read size {read_size})",
                timestamp(&Local::now())
            )
        }
        Line::AcceptFailed { at, reason } => {
            format!("{} accept failed: {reason} (retrying)", timestamp(at))
        }
        Line::Server(ServerEvent {
            at,
            conn,
            peer,
            kind,
        }) => {
            let what = match kind {
                ServerEventKind::Connected => "connected".to_owned(),
                ServerEventKind::Read { len, preview } => {
                    let more = if *len > preview.len() { "…" } else { "" };
                    format!("read {len} B: {}{more}", sanitize(preview))
                }
                ServerEventKind::Closed {
                    reason,
                    bytes_in,
                    bytes_out,
                } => {
                    format!("{reason} (in {bytes_in} B, out {bytes_out} B)")
                }
                ServerEventKind::Rejected { limit } => format!("turned away: {limit}"),
                ServerEventKind::Datagram {
                    len,
                    sent_len,
                    preview,
                } => {
                    let more = if *len > preview.len() { "…" } else { "" };
                    let cut = if sent_len > len {
                        format!(" (cut from {sent_len} B by the read size)")
                    } else {
                        String::new()
                    };
                    format!("datagram {len} B: {}{more}{cut}", sanitize(preview))
                }
                ServerEventKind::Dropped { reason } => reason.to_string(),
                ServerEventKind::Stalled { pending } => {
                    format!("stalled: not reading, {pending} B waiting to be echoed")
                }
                ServerEventKind::Unstalled => "reading again".to_owned(),
            };
            format!("{} #{conn} {peer} {what}", timestamp(at))
        }
    }
}

fn json_line(line: &Line) -> serde_json::Value {
    match line {
        Line::Listening {
            listen,
            transport,
            read_size,
        } => json!({
            "ts": timestamp(&Local::now()), "event": "listening", "addr": listen.to_string(),
            "protocol": transport.to_string().to_lowercase(), "read_size": read_size,
        }),
        Line::AcceptFailed { at, reason } => json!({
            "ts": timestamp(at), "event": "error", "reason": format!("accept failed: {reason}"),
        }),
        Line::Server(ServerEvent {
            at,
            conn,
            peer,
            kind,
        }) => {
            let mut value = json!({ "ts": timestamp(at), "conn": conn, "peer": peer.to_string() });
            let fields = match kind {
                ServerEventKind::Connected => json!({ "event": "connected" }),
                ServerEventKind::Read { len, preview } => json!({
                    "event": "read", "bytes": len, "data": sanitize(preview),
                    "truncated": *len > preview.len(),
                }),
                ServerEventKind::Closed {
                    reason,
                    bytes_in,
                    bytes_out,
                } => json!({
                    "event": if matches!(reason, CloseReason::Error(_)) { "error" } else { "closed" },
                    "reason": reason.to_string(), "bytes_in": bytes_in, "bytes_out": bytes_out,
                }),
                ServerEventKind::Rejected { limit } => {
                    json!({ "event": "limit", "reason": limit.to_string() })
                }
                ServerEventKind::Datagram {
                    len,
                    sent_len,
                    preview,
                } => json!({
                    "event": "datagram", "bytes": len, "data": sanitize(preview),
                    "truncated": *len > preview.len(), "sent_bytes": sent_len,
                }),
                ServerEventKind::Dropped { reason } => {
                    json!({ "event": "limit", "reason": reason.to_string() })
                }
                ServerEventKind::Stalled { pending } => {
                    json!({ "event": "stalled", "pending_bytes": pending })
                }
                ServerEventKind::Unstalled => json!({ "event": "unstalled" }),
            };
            if let (Some(map), serde_json::Value::Object(extra)) = (value.as_object_mut(), fields) {
                map.extend(extra);
            }
            value
        }
    }
}
