//! `echotui bench`: a load generator for echo servers.
//!
//! `--connections` connections each keep `--pipeline` messages in flight for `--duration`,
//! and every echo is checked byte for byte and timed at the socket. Only messages whose echo
//! came back complete and equal count, in `messages`, `bytes` and the RTT ladder; what is
//! still in flight when the time is up counts nowhere.
//!
//! One job per module:
//! - this one runs a bench: finds the target, opens the connections, runs the warm-up and
//!   the measured phase, and merges what each connection measured;
//! - `tcp`: the TCP engine, one task per connection (why, and what makes its numbers honest);
//! - `udp`: the UDP engine, one socket per "connection";
//! - `progress`: the live line on stderr;
//! - `report`: the `--json` object or the table, and the exit code.

mod progress;
mod report;
mod tcp;
mod udp;

use std::io::{self, IsTerminal};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use self::progress::{PROGRESS_EVERY, Progress};
use self::report::{ErrorTally, Measured};
use self::tcp::{Connection, Options, Payloads};
use std::net::SocketAddr;

use crate::cli::{BenchArgs, ClientOpts, ServerOpts};
use crate::net::{self, ServerModel, Transport};
use crate::stats::{Clock, ClockCount, RttStats};
use crate::units;

pub use self::report::{BenchReport, RunResult};

/// One run of a comparison: every combination of the lists given is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSpec {
    /// The embedded server's model and read size; `None` against a target.
    pub model: Option<ServerModel>,
    pub read_size: Option<usize>,
    pub connections: usize,
    pub size: usize,
    pub pipeline: usize,
}

/// Every run asked for, in the order the lists give them (models outermost).
fn specs(args: &BenchArgs, server: &ServerOpts) -> anyhow::Result<Vec<RunSpec>> {
    let embedded = args.target.is_none();
    let server_lists: Vec<(Option<ServerModel>, Option<usize>)> = if embedded {
        let mut pairs = Vec::new();
        for &model in &server.model {
            for &read_size in &server.read_size {
                pairs.push((Some(model), Some(read_size)));
            }
        }
        pairs
    } else {
        let default = ServerOpts::default_lists();
        if (server.model.as_slice(), server.read_size.as_slice())
            != (default.0.as_slice(), default.1.as_slice())
        {
            anyhow::bail!(
                "--model and --read-size set the embedded server: a target serves as it does"
            );
        }
        vec![(None, None)]
    };
    let mut specs = Vec::new();
    for (model, read_size) in server_lists {
        for &connections in &args.connections {
            for &size in &args.size {
                for &pipeline in &args.pipeline {
                    specs.push(RunSpec {
                        model,
                        read_size,
                        connections,
                        size,
                        pipeline,
                    });
                }
            }
        }
    }
    if specs.len() > MAX_RUNS {
        anyhow::bail!(
            "{} runs asked for: at most {MAX_RUNS} in one comparison",
            specs.len()
        );
    }
    Ok(specs)
}

/// Most runs one comparison may ask for: each is a `--duration` of load.
const MAX_RUNS: usize = 64;

/// Runs the bench (every combination of the lists, each against a fresh embedded server
/// when there is no target); exit 0 if every run measured echoes and nothing went wrong.
pub async fn run(
    args: &BenchArgs,
    server: &ServerOpts,
    client_opts: &ClientOpts,
    transport: Transport,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    if transport == Transport::Udp {
        super::refuse_congestion_over_udp("bench", client_opts)?;
    }
    let specs = specs(args, server)?;
    let mut results = Vec::with_capacity(specs.len());
    for spec in specs {
        if shutdown.is_cancelled() {
            break;
        }
        // This run's server and sockets stop with it, before the next run starts.
        let run_stop = shutdown.child_token();
        let target = match &args.target {
            Some(target) => Target::Remote(net::resolve(target).await?),
            None => {
                let behaviour = server.behaviour(
                    spec.model.unwrap_or_default(),
                    spec.read_size.unwrap_or(net::DEFAULT_READ_SIZE),
                );
                let embedded = super::embedded_server(
                    &run_stop,
                    spec.connections,
                    transport,
                    behaviour,
                    server.backlog,
                )
                .await?;
                Target::Embedded(embedded)
            }
        };
        let result = match transport {
            Transport::Tcp => run_tcp(args, &spec, &target, client_opts, &shutdown).await?,
            Transport::Udp => run_udp(args, &spec, &target, client_opts.clock, &shutdown).await?,
        };
        run_stop.cancel();
        results.push(result);
    }
    report::report(args.json, &results)
}

/// Who a run loads: a server somewhere, or one started for this run.
enum Target {
    Remote(SocketAddr),
    Embedded(super::Embedded),
}

impl Target {
    fn addr(&self) -> SocketAddr {
        match self {
            Target::Remote(addr) => *addr,
            Target::Embedded(embedded) => embedded.addr,
        }
    }

    /// The run's result with what only the end of it can tell: the server's threads and
    /// our memory.
    fn result(&self, spec: &RunSpec, transport: Transport, measured: Measured) -> RunResult {
        RunResult {
            spec: *spec,
            target: self.addr(),
            transport,
            measured,
            server_threads: match self {
                Target::Remote(_) => None,
                Target::Embedded(embedded) => Some(embedded.control.snapshot().threads),
            },
            rss_kib: rss_kib(),
        }
    }
}

/// echotui's resident memory in KiB, as Linux reports it (`None` elsewhere).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Waits until the kernel timestamps arrivals (see [`net::stamp::wait_until_stamping`]),
/// once the run's sockets have asked for it, when the kernel's clock is wanted.
async fn wait_until_stamping(clock: Clock) -> anyhow::Result<()> {
    if clock == Clock::Kernel {
        tokio::task::spawn_blocking(net::stamp::wait_until_stamping).await?;
    }
    Ok(())
}

/// One run over TCP: connections (see [`tcp`]).
async fn run_tcp(
    args: &BenchArgs,
    spec: &RunSpec,
    target: &Target,
    client_opts: &ClientOpts,
    shutdown: &CancellationToken,
) -> anyhow::Result<RunResult> {
    let addr = target.addr();
    let mut errors = ErrorTally::default();
    let options = Options {
        nodelay: !client_opts.nagle,
        congestion: client_opts.congestion,
    };
    let streams = tcp::connect_all(addr, spec.connections, options, &mut errors).await?;
    let payloads = Arc::new(Payloads::new(spec.size, spec.pipeline));
    let clock = client_opts.clock;
    let mut conns: Vec<Connection> = streams
        .into_iter()
        .map(|stream| Connection::new(stream, payloads.clone(), spec.pipeline, clock))
        .collect();
    wait_until_stamping(clock).await?;

    if args.warmup > 0 {
        (conns, _) = run_phase(conns, Some(args.warmup), args.duration, shutdown, None).await?;
    }
    for conn in &mut conns {
        conn.finish_warmup(args.warmup, args.duration);
    }
    let progress = io::stderr().is_terminal().then(|| {
        let mut progress = Progress::new();
        for conn in &mut conns {
            conn.show_progress(progress.track());
        }
        progress
    });
    let (conns, elapsed) = run_phase(conns, None, args.duration, shutdown, progress).await?;
    let mut stats = RttStats::new();
    let mut clocks = ClockCount::default();
    for conn in &conns {
        conn.tally(&mut stats, &mut clocks, &mut errors);
    }
    let measured = Measured {
        stats,
        elapsed,
        errors,
        served: conns.iter().filter(|conn| conn.served()).count(),
        clocks,
        in_force: conns.first().map_or(Clock::User, Connection::clock),
        // Every connection is alike: the first one's socket stands for them all.
        tcp_info: Some(conns.first().and_then(Connection::tcp_info)),
    };
    // The connections are still open: the server's threads are still there to count.
    Ok(target.result(spec, Transport::Tcp, measured))
}

/// Runs every connection still open until each has `budget` messages echoed (`None`: no
/// limit), `limit` has passed, a signal arrives, or all of them have stopped. Returns them
/// all, and how long the phase lasted.
async fn run_phase(
    conns: Vec<Connection>,
    budget: Option<u64>,
    limit: Duration,
    shutdown: &CancellationToken,
    mut progress: Option<Progress>,
) -> anyhow::Result<(Vec<Connection>, Duration)> {
    let started = Instant::now();
    let mut done = Vec::with_capacity(conns.len());
    let mut running = JoinSet::new();
    // One stop signal per connection, not one shared token: a task checks its signal on
    // every wake-up, and polling a shared `CancellationToken` takes locks that every
    // connection would contend for. Dropping the senders stops them all.
    let mut stops = Vec::with_capacity(conns.len());
    for conn in conns {
        if conn.has_ended() {
            done.push(conn);
            continue;
        }
        let (stop, stopped) = oneshot::channel::<()>();
        stops.push(stop);
        running.spawn(conn.exchange_until(budget, stopped));
    }
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    let first_tick = tokio::time::Instant::now() + PROGRESS_EVERY;
    let mut ticks = tokio::time::interval_at(first_tick, PROGRESS_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            _ = shutdown.cancelled() => break,
            finished = running.join_next() => match finished {
                Some(conn) => done.push(conn?),
                None => break,
            },
            _ = ticks.tick(), if progress.is_some() => {
                if let Some(progress) = &mut progress {
                    progress.show(started.elapsed());
                }
            }
        }
    }
    let elapsed = started.elapsed();
    drop(stops);
    if let Some(progress) = progress {
        progress.clear();
    }
    while let Some(conn) = running.join_next().await {
        done.push(conn?);
    }
    Ok((done, elapsed))
}

/// One run over UDP: sockets instead of connections (see [`udp`]).
async fn run_udp(
    args: &BenchArgs,
    spec: &RunSpec,
    target: &Target,
    clock: Clock,
    shutdown: &CancellationToken,
) -> anyhow::Result<RunResult> {
    super::check_udp_probe_size("bench", spec.size)?;
    let sockets = Arc::new(udp::open_all(target.addr(), spec.connections).await?);
    let mut in_force = clock;
    for socket in sockets.iter() {
        in_force = net::stamp::ask(std::os::fd::AsFd::as_fd(socket), clock);
    }
    wait_until_stamping(clock).await?;
    let phase = |until: Instant, replies: Option<u64>| {
        let mut tasks = JoinSet::new();
        for i in 0..sockets.len() {
            let (sockets, stop) = (sockets.clone(), shutdown.clone());
            let (size, pipeline) = (spec.size, spec.pipeline);
            tasks.spawn(async move {
                udp::run(&sockets[i], clock, size, pipeline, until, replies, stop).await
            });
        }
        tasks.join_all()
    };
    if args.warmup > 0 {
        phase(Instant::now() + args.duration, Some(args.warmup)).await;
    }
    let started = Instant::now();
    let loads = phase(started + args.duration, None).await;
    let elapsed = started.elapsed().min(args.duration);
    let mut stats = RttStats::new();
    let mut clocks = ClockCount::default();
    let mut errors = ErrorTally::default();
    let lost = format!(
        "lost (no reply within {})",
        humantime::format_duration(udp::LOSS_AFTER)
    );
    let (mut late, mut duplicates) = (0, 0);
    for load in &loads {
        stats.merge(&load.stats);
        clocks.merge(&load.clocks);
        errors.add(&lost, load.lost);
        errors.add("echo differs from what was sent", load.mismatched);
        late += load.late;
        duplicates += load.duplicates;
    }
    if late + duplicates > 0 {
        eprintln!(
            "echotui bench: {} and {} (not counted)",
            units::count(late, "late reply", "late replies"),
            units::count(duplicates, "duplicate reply", "duplicate replies")
        );
    }
    let measured = Measured {
        served: loads.iter().filter(|load| load.stats.count() > 0).count(),
        stats,
        elapsed,
        errors,
        clocks,
        in_force,
        tcp_info: None,
    };
    Ok(target.result(spec, Transport::Udp, measured))
}
