//! echotui: the echo protocol (RFC 862) made visible.
//!
//! Data flows one way: [`net`] → [`net::NetEvent`] → [`app::Msg`] → [`app::update`] →
//! [`app::App`] → [`ui::draw`]. Commands flow back: `update` returns [`app::Effect`]s, the
//! [`runtime`] turns them into [`net::ClientCommand`]s. Nothing in `app` or `ui` touches a
//! socket; nothing in `net` or `stats` touches the terminal.
//!
//! - [`cli`]: command-line types and validation.
//! - [`net`]: echo server, client actor, events. [`stats`]: RTT matching and statistics.
//! - [`app`]: the state machine. [`ui`]: the view. [`runtime`]: the loop joining them.
//! - [`tui`]: the terminal modes; [`headless`]: `ping`, `bench` and `serve --headless`.
//! - [`text`]: untrusted bytes made printable. [`terminal`]: raw mode as RAII.

pub mod app;
pub mod cli;
pub mod headless;
pub mod net;
pub mod panics;
pub mod runtime;
pub mod session_log;
pub mod signals;
pub mod stats;
pub mod terminal;
pub mod text;
pub mod tui;
pub mod ui;
pub mod units;

use std::process::ExitCode;

use cli::{Cli, Command};
use tokio_util::sync::CancellationToken;

/// Runs the command the user asked for on one tokio runtime; `Err` is a user-facing error
/// (exit 2), a lost probe is `Ok(ExitCode 1)`.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // One token ends everything: the user quitting, a signal, or a panic in any task.
    let shutdown = CancellationToken::new();
    panics::end_run_on_panic(shutdown.clone());
    // Run the command as a task on a worker, not on this thread inside `block_on`: a worker
    // polls the sockets itself, so an echo wakes the task directly instead of waking a worker
    // that must then wake this thread. That second hop cost ping ~9 µs per probe (1.6× a
    // blocking client); on a worker it is gone.
    let task = runtime.spawn(dispatch(cli, shutdown));
    let result = runtime
        .block_on(task)
        .unwrap_or_else(|join| Err(anyhow::anyhow!("internal error: {join}")));
    // The terminal reader thread may still be blocked in a read; do not wait for it.
    runtime.shutdown_background();
    if panics::happened() {
        panics::print_kept_report();
        return Ok(ExitCode::from(101));
    }
    match result {
        // Output piped into `head`, which stopped reading: done, as ping(8) would be.
        Err(err)
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(ExitCode::SUCCESS)
        }
        other => other,
    }
}

async fn dispatch(cli: Cli, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    signals::cancel_on_signals(shutdown.clone())?;
    let needs_terminal = match &cli.command {
        None | Some(Command::Connect(_)) => true,
        Some(Command::Serve(args)) => !args.headless,
        Some(Command::Ping(_) | Command::Bench(_)) => false,
    };
    if needs_terminal {
        terminal::require_terminal()?;
    }
    if cli.listen.is_some() && cli.command.is_some() {
        anyhow::bail!(
            "--listen before a command sets the default UI's server; write 'echotui serve --listen ADDR'"
        );
    }
    // `--log` records a client's session: refuse it where there is none rather than ignore it.
    let log = match (&cli.log, &cli.command) {
        (None, _) => None,
        (Some(_), Some(Command::Serve(_) | Command::Bench(_))) => {
            anyhow::bail!("--log records a client session: use it with echotui, connect or ping")
        }
        (Some(path), _) => Some(session_log::SessionLog::create(path)?),
    };
    let transport = cli.transport.transport();
    match &cli.command {
        None => {
            let impairments = cli.impair.impairments();
            let listen = cli.listen.as_deref();
            let (server, client) = (&cli.server, &cli.client);
            tui::side_by_side(
                listen,
                server,
                client,
                transport,
                impairments,
                log,
                shutdown,
            )
            .await
        }
        Some(Command::Serve(args)) if args.headless => {
            headless::serve::run(args, &cli.server, transport, shutdown).await
        }
        Some(Command::Serve(args)) => tui::serve(args, &cli.server, transport, shutdown).await,
        Some(Command::Connect(args)) => {
            let impairments = args.impair.impairments();
            let client = &cli.client;
            tui::connect(&args.target, client, transport, impairments, log, shutdown).await
        }
        Some(Command::Ping(args)) => {
            headless::ping::run(args, &cli.server, &cli.client, transport, log, shutdown).await
        }
        Some(Command::Bench(args)) => {
            headless::bench::run(args, &cli.server, &cli.client, transport, shutdown).await
        }
    }
}
