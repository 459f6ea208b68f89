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
use crate::cli::{BenchArgs, ClientOpts};
use crate::net::{self, Transport};
use crate::stats::{Clock, ClockCount, RttStats};
use crate::units;

pub use self::report::BenchReport;

/// Runs the bench; exit 0 if echoes were measured and nothing went wrong, 1 otherwise.
pub async fn run(
    args: &BenchArgs,
    client_opts: &ClientOpts,
    transport: Transport,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    match transport {
        Transport::Tcp => run_tcp(args, client_opts, shutdown).await,
        Transport::Udp => {
            super::refuse_congestion_over_udp("bench", client_opts)?;
            run_udp(args, client_opts.clock, shutdown).await
        }
    }
}

/// Waits until the kernel timestamps arrivals (see [`net::stamp::wait_until_stamping`]),
/// once the run's sockets have asked for it, when the kernel's clock is wanted.
async fn wait_until_stamping(clock: Clock) -> anyhow::Result<()> {
    if clock == Clock::Kernel {
        tokio::task::spawn_blocking(net::stamp::wait_until_stamping).await?;
    }
    Ok(())
}

/// `bench` over TCP: connections (see [`tcp`]).
async fn run_tcp(
    args: &BenchArgs,
    client_opts: &ClientOpts,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let target = match &args.target {
        Some(target) => net::resolve(target).await?,
        None => super::embedded_server(&shutdown, args.connections, Transport::Tcp).await?,
    };
    let mut errors = ErrorTally::default();
    let options = Options {
        nodelay: !client_opts.nagle,
        congestion: client_opts.congestion,
    };
    let streams = tcp::connect_all(target, args.connections, options, &mut errors).await?;
    let payloads = Arc::new(Payloads::new(args.size, args.pipeline));
    let clock = client_opts.clock;
    let mut conns: Vec<Connection> = streams
        .into_iter()
        .map(|stream| Connection::new(stream, payloads.clone(), args.pipeline, clock))
        .collect();
    wait_until_stamping(clock).await?;

    if args.warmup > 0 {
        (conns, _) = run_phase(conns, Some(args.warmup), args.duration, &shutdown, None).await?;
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
    let (conns, elapsed) = run_phase(conns, None, args.duration, &shutdown, progress).await?;
    // Every connection is alike: the first one's socket stands for them all.
    let tcp_info = Some(conns.first().and_then(Connection::tcp_info));
    let in_force = conns.first().map_or(Clock::User, Connection::clock);
    shutdown.cancel();

    let mut measured = Measured {
        stats: RttStats::new(),
        clocks: ClockCount::default(),
        in_force,
        tcp_info,
    };
    for conn in &conns {
        conn.tally(&mut measured.stats, &mut measured.clocks, &mut errors);
    }
    report::report(args, target, Transport::Tcp, &measured, elapsed, &errors)
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

/// `bench --udp`: sockets instead of connections (see [`udp`]).
async fn run_udp(
    args: &BenchArgs,
    clock: Clock,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    super::check_udp_probe_size("bench", args.size)?;
    let target = match &args.target {
        Some(target) => net::resolve(target).await?,
        None => super::embedded_server(&shutdown, args.connections, Transport::Udp).await?,
    };
    let sockets = Arc::new(udp::open_all(target, args.connections).await?);
    let mut in_force = clock;
    for socket in sockets.iter() {
        in_force = net::stamp::ask(std::os::fd::AsFd::as_fd(socket), clock);
    }
    wait_until_stamping(clock).await?;
    let phase = |until: Instant, replies: Option<u64>| {
        let mut tasks = JoinSet::new();
        for i in 0..sockets.len() {
            let (sockets, stop) = (sockets.clone(), shutdown.clone());
            let (size, pipeline) = (args.size, args.pipeline);
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
    shutdown.cancel();
    let mut measured = Measured {
        stats: RttStats::new(),
        clocks: ClockCount::default(),
        in_force,
        tcp_info: None,
    };
    let mut errors = ErrorTally::default();
    let lost = format!(
        "lost (no reply within {})",
        humantime::format_duration(udp::LOSS_AFTER)
    );
    let (mut late, mut duplicates) = (0, 0);
    for load in &loads {
        measured.stats.merge(&load.stats);
        measured.clocks.merge(&load.clocks);
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
    report::report(args, target, Transport::Udp, &measured, elapsed, &errors)
}
