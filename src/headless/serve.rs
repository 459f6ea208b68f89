//! `echotui serve --headless`: one log line per event, a summary on Ctrl-C/SIGTERM/SIGHUP.
//!
//! Lines go to a buffer flushed on a short tick, so a slow stdout (a pipe, a terminal) costs
//! one write per tick instead of one per read, and logging never throttles echoing.

use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{DateTime, Local, SecondsFormat};
use serde_json::json;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::app::model::AddressBook;
use crate::cli::{ServeArgs, ServerOpts};
use crate::net::census::CensusSnapshot;
use crate::net::sockinfo::{AcceptQueue, Unavailable};
use crate::net::{
    self, CloseReason, NetEvent, Refused, ServerEvent, ServerEventKind, ServerSettings, Transport,
};
use crate::text::sanitize;
use crate::units;

/// How often buffered log lines reach stdout.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// How often the listener's accept queue is asked about: a change is logged at most this
/// often, ten lines a second however fast connections come and go.
const QUEUE_EVERY: Duration = Duration::from_millis(100);
/// Events that may wait for the logger before the server starts dropping them (and says so).
const EVENT_QUEUE: usize = 64 * 1024;

/// Runs the server and logs until a signal; exit 0.
pub async fn run(
    args: &ServeArgs,
    server_opts: &ServerOpts,
    transport: Transport,
    mask_addresses: bool,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let settings = ServerSettings {
        report_reads: !args.quiet,
        limits: args.into(),
    };
    let behaviour = server_opts.single()?;
    let read_size = behaviour.read_size;
    let (sink, mut events) = net::event::channel(EVENT_QUEUE);
    let (server, control) = net::serve::start_at(
        &args.listen,
        transport.into(),
        server_opts.backlog,
        settings,
        behaviour,
        sink,
        shutdown.clone(),
    )
    .await?;
    for notice in server.notices.iter().chain(&server.small_receive_buffer()) {
        eprintln!("notice: {notice}");
    }
    let listen = server.addr;
    let udp_receive_buffer = server.udp_receive_buffer;

    let mut log = Log::new(args.json, transport);
    // Masked in the text a projector may show; JSON is for scripts and keeps the real ones.
    log.masks = (mask_addresses && !args.json).then(AddressBook::default);
    log.line(&Line::Listening {
        listen,
        transport,
        read_size,
        udp_receive_buffer,
    });
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    let mut queue_looks = tokio::time::interval(QUEUE_EVERY);
    // Behind (a stalled stdout), the next look waits a whole period: never a burst of looks.
    queue_looks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = flush.tick() => log.flush()?,
            _ = queue_looks.tick() => log.accept_queue(control.accept_queue()),
            event = events.recv() => match event {
                Some(event) => log.event(event),
                None => break,
            },
        }
    }
    // The server finishes its connections (they see the shutdown) before the summary.
    server.stopped().await;
    while let Some(event) = events.try_recv() {
        log.event(event);
    }
    log.summary(&control.census().snapshot(), events.dropped());
    log.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// What one log line says.
enum Line<'a> {
    Listening {
        listen: SocketAddr,
        transport: Transport,
        read_size: usize,
        /// As the kernel reports it: how big a burst of datagrams can wait to be read.
        udp_receive_buffer: Option<usize>,
    },
    Server(&'a ServerEvent),
    AcceptFailed {
        at: DateTime<Local>,
        reason: &'a str,
    },
    Flood {
        at: DateTime<Local>,
        what: Refused,
        count: u64,
    },
    /// The listener's accept queue changed length.
    AcceptQueue {
        at: DateTime<Local>,
        queue: AcceptQueue,
    },
}

/// The log: formatting (text or JSON), and the summary from the server's census.
struct Log {
    json: bool,
    /// What the server speaks: a UDP server has sources and datagrams, not connections.
    transport: Transport,
    out: BufWriter<io::Stdout>,
    started: Instant,
    /// `--mask-addresses`: the number behind each peer's `student-NN`.
    masks: Option<AddressBook>,
    /// The accept queue's length as last logged (nobody waits at the start).
    queue_waiting: u32,
    /// Whether the log said already that the accept queue cannot be read here.
    queue_unavailable_told: bool,
}

impl Log {
    fn new(json: bool, transport: Transport) -> Self {
        Self {
            json,
            transport,
            out: BufWriter::with_capacity(64 * 1024, io::stdout()),
            started: Instant::now(),
            masks: None,
            queue_waiting: 0,
            queue_unavailable_told: false,
        }
    }

    /// A look at the accept queue: a line when its length changed. Kept under `--quiet`,
    /// which leaves out what grows with the load: this grows with time only (ten lines a
    /// second at most), and a queue that fills is what a loaded server must show. That it
    /// cannot be read here is said once, on stderr, as the other notices.
    fn accept_queue(&mut self, asked: Option<Result<AcceptQueue, Unavailable>>) {
        match asked {
            Some(Ok(queue)) if queue.waiting != self.queue_waiting => {
                self.queue_waiting = queue.waiting;
                let at = Local::now();
                self.line(&Line::AcceptQueue { at, queue });
            }
            Some(Err(why)) if !self.queue_unavailable_told => {
                self.queue_unavailable_told = true;
                eprintln!("notice: the accept queue cannot be read: {why}");
            }
            _ => {}
        }
    }

    fn event(&mut self, event: NetEvent) {
        match &event {
            NetEvent::Server(server_event) => self.line(&Line::Server(server_event)),
            NetEvent::AcceptFailed { at, reason } => {
                self.line(&Line::AcceptFailed { at: *at, reason })
            }
            &NetEvent::Flood { at, what, count } => self.line(&Line::Flood { at, what, count }),
            NetEvent::Client(_) => {}
        }
    }

    fn line(&mut self, line: &Line) {
        let written = if self.json {
            let value = json_line(line);
            serde_json::to_writer(&mut self.out, &value)
                .map_err(io::Error::from)
                .and_then(|()| writeln!(self.out))
        } else {
            let masked = match (line, &mut self.masks) {
                (Line::Server(event), Some(book)) => {
                    book.note(event.peer.ip());
                    Some(book.label(event.peer.ip()))
                }
                _ => None,
            };
            writeln!(self.out, "{}", text_line(line, masked.as_deref()))
        };
        // stdout gone (a closed pipe): nothing left to log to, but keep echoing.
        let _ = written;
    }

    /// The last line: the census's totals since the start (exact, even for what was not
    /// logged), and `not_logged` events dropped on the way.
    fn summary(&mut self, census: &CensusSnapshot, not_logged: u64) {
        let uptime = self.started.elapsed().as_secs_f64();
        let c = census;
        let line = if self.json {
            json!({
                "ts": timestamp(&Local::now()), "event": "summary",
                "uptime_s": units::json_figure(uptime), "accepted": c.accepted,
                "peak_connections": c.peak_open, "rejected": c.rejected, "reads": c.reads,
                "bytes": c.bytes, "udp_sources": c.sources_seen,
                "unanswered_datagrams": c.unanswered, "events_not_logged": not_logged,
            })
            .to_string()
        } else {
            let traffic = match self.transport {
                Transport::Tcp => format!(
                    "{} (peak {} at once), {} turned away, {}",
                    units::count(c.accepted, "connection", "connections"),
                    c.peak_open,
                    c.rejected,
                    units::count(c.reads, "read", "reads"),
                ),
                Transport::Udp => format!(
                    "{} from {}, {} unanswered",
                    units::count(c.reads, "datagram", "datagrams"),
                    units::count(c.sources_seen, "source", "sources"),
                    units::count(c.unanswered, "datagram", "datagrams"),
                ),
            };
            format!(
                "summary: {uptime:.1}s up, {traffic}, {} echoed, {} not logged",
                units::bytes(c.bytes),
                units::count(not_logged, "event", "events"),
            )
        };
        // stdout gone (a closed pipe): nothing left to log to.
        let _ = writeln!(self.out, "{line}");
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

/// The first bytes of a `len`-byte read, printable, with `…` when there were more.
fn previewed(preview: &[u8], len: usize) -> String {
    let more = if len > preview.len() { "…" } else { "" };
    format!("{}{more}", sanitize(preview))
}

/// One line of the text log; `masked` stands for the peer's address when masking.
fn text_line(line: &Line, masked: Option<&str>) -> String {
    match line {
        Line::Listening {
            listen,
            transport,
            read_size,
            udp_receive_buffer,
        } => {
            let buffer = udp_receive_buffer.map_or(String::new(), |size| {
                format!(", UDP receive buffer {}", units::bytes(size as u64))
            });
            format!(
                "{} listening on {listen} ({transport} echo, read size {read_size}{buffer})",
                timestamp(&Local::now())
            )
        }
        Line::AcceptFailed { at, reason } => {
            format!("{} accept failed: {reason} (retrying)", timestamp(at))
        }
        Line::Flood { at, what, count } => {
            format!("{} {}", timestamp(at), what.describe(*count))
        }
        Line::AcceptQueue { at, queue } => format!("{} accept queue: {queue}", timestamp(at)),
        Line::Server(ServerEvent {
            at,
            conn,
            peer,
            kind,
        }) => {
            let what = match kind {
                ServerEventKind::Connected => "connected".to_owned(),
                ServerEventKind::Read { len, preview } => {
                    format!("read {len} B: {}", previewed(preview, *len))
                }
                ServerEventKind::Closed {
                    reason,
                    bytes_in,
                    bytes_out,
                    tcp,
                } => {
                    let kernel = tcp.map_or(String::new(), |tcp| {
                        let retrans = units::count(
                            tcp.total_retrans.into(),
                            "retransmission",
                            "retransmissions",
                        );
                        format!(", rtt {}, {retrans}", units::duration(tcp.rtt))
                    });
                    format!("{reason} (in {bytes_in} B, out {bytes_out} B{kernel})")
                }
                ServerEventKind::TcpState(state) => format!("TCP state {state}"),
                ServerEventKind::Rejected { limit, count } => {
                    format!("turned away{}: {limit}", net::event::times(*count))
                }
                ServerEventKind::Datagram {
                    len,
                    sent_len,
                    preview,
                } => {
                    let cut = if sent_len > len {
                        format!(" (cut from {sent_len} B by the read size)")
                    } else {
                        String::new()
                    };
                    format!("datagram {len} B: {}{cut}", previewed(preview, *len))
                }
                ServerEventKind::Dropped { reason, count } => {
                    format!("{reason}{}", net::event::times(*count))
                }
                ServerEventKind::Stalled { pending } => {
                    format!("stalled: not reading, {pending} B waiting to be echoed")
                }
                ServerEventKind::Greeted { len } => format!("greeted with {len} B"),
                ServerEventKind::Frame {
                    len,
                    reads,
                    preview,
                } => {
                    let reads = units::count(*reads as u64, "read", "reads");
                    format!("frame {len} B (from {reads}): {}", previewed(preview, *len))
                }
                ServerEventKind::Echoed {
                    len,
                    chunks,
                    waited,
                } => net::event::echoed_words(*len, *chunks, *waited),
                ServerEventKind::Unstalled => "reading again".to_owned(),
            };
            let peer = masked.map_or_else(|| peer.to_string(), str::to_owned);
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
            udp_receive_buffer,
        } => json!({
            "ts": timestamp(&Local::now()), "event": "listening", "addr": listen.to_string(),
            "protocol": transport.to_string().to_lowercase(), "read_size": read_size,
            "udp_receive_buffer": udp_receive_buffer,
        }),
        Line::AcceptFailed { at, reason } => json!({
            "ts": timestamp(at), "event": "error", "reason": format!("accept failed: {reason}"),
        }),
        Line::Flood { at, what, count } => json!({
            "ts": timestamp(at), "event": "flood",
            "refused": match what { Refused::Connections => "connections", Refused::Datagrams => "datagrams" },
            "count": count, "reason": what.describe(*count),
        }),
        Line::AcceptQueue { at, queue } => json!({
            "ts": timestamp(at), "event": "accept_queue", "waiting": queue.waiting,
            "backlog": queue.backlog,
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
                    tcp,
                } => json!({
                    "event": if matches!(reason, CloseReason::Error(_)) { "error" } else { "closed" },
                    "reason": reason.to_string(), "bytes_in": bytes_in, "bytes_out": bytes_out,
                    "rtt_us": tcp.map(|tcp| units::json_micros(tcp.rtt)),
                    "retrans": tcp.map(|tcp| tcp.total_retrans),
                }),
                ServerEventKind::TcpState(state) => {
                    json!({ "event": "tcp_state", "state": state.to_string() })
                }
                ServerEventKind::Rejected { limit, count } => {
                    json!({ "event": "limit", "reason": limit.to_string(), "count": count })
                }
                ServerEventKind::Datagram {
                    len,
                    sent_len,
                    preview,
                } => json!({
                    "event": "datagram", "bytes": len, "data": sanitize(preview),
                    "truncated": *len > preview.len(), "sent_bytes": sent_len,
                }),
                ServerEventKind::Dropped { reason, count } => {
                    json!({ "event": "limit", "reason": reason.to_string(), "count": count })
                }
                ServerEventKind::Stalled { pending } => {
                    json!({ "event": "stalled", "pending_bytes": pending })
                }
                ServerEventKind::Greeted { len } => json!({ "event": "greeting", "bytes": len }),
                ServerEventKind::Frame {
                    len,
                    reads,
                    preview,
                } => json!({
                    "event": "frame", "bytes": len, "reads": reads, "data": sanitize(preview),
                    "truncated": *len > preview.len(),
                }),
                ServerEventKind::Echoed {
                    len,
                    chunks,
                    waited,
                } => json!({
                    "event": "echo", "bytes": len, "writes": chunks,
                    "waited_us": units::json_micros(*waited),
                }),
                ServerEventKind::Unstalled => json!({ "event": "unstalled" }),
            };
            if let (Some(map), serde_json::Value::Object(extra)) = (value.as_object_mut(), fields) {
                map.extend(extra);
            }
            value
        }
    }
}
