//! echotui: the echo protocol (RFC 862) made visible.
//!
//! Data flows one way: [`net`] → [`net::NetEvent`] → [`app::Msg`] → [`app::update()`] →
//! [`app::App`] → [`ui::draw`]. Commands flow back: `update` returns [`app::Effect`]s, the
//! [`runtime`] turns them into [`net::ClientCommand`]s. Nothing in `app` or `ui` touches a
//! socket; nothing in `net` or `stats` touches the terminal.
//!
//! - [`cli`]: command-line types and validation.
//! - [`net`]: echo server, client actor, events. [`stats`]: RTT matching and statistics.
//! - [`app`]: the state machine. [`ui`]: the view. [`runtime`]: the loop joining them.
//! - [`tui`]: the terminal modes; [`headless`]: `ping`, `bench` and `serve --headless`.
//! - [`text`]: untrusted bytes made printable. `terminal`: raw mode as RAII.
//! - [`lesson`]: guided lessons as data. [`config`]: the config file. [`docs`]: completions
//!   and the man page. [`screenshots`]: the README's pictures, from the snapshot rendering.

pub mod app;
pub mod cli;
pub mod config;
pub mod docs;
pub mod headless;
pub mod lesson;
pub mod net;
pub(crate) mod panics;
pub mod runtime;
pub mod screenshots;
pub mod session_log;
pub(crate) mod signals;
pub mod stats;
pub(crate) mod terminal;
pub mod text;
pub mod tomlfile;
pub mod tui;
pub mod ui;
pub mod units;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use cli::{Cli, Command, LessonArgs};
use lesson::Catalog;
use tokio_util::sync::CancellationToken;

/// Runs the command the user asked for on one tokio runtime; `Err` is a user-facing error
/// (exit 2), a lost probe is `Ok(ExitCode 1)`.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Some(printed) = print_only(&cli).transpose() {
        return quiet_broken_pipe(printed);
    }
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
    quiet_broken_pipe(result)
}

/// Output piped into `head`, which stopped reading: done, as ping(8) would be.
fn quiet_broken_pipe(result: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    match result {
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

/// The commands that only print (no runtime, no terminal): `config`, `completions`, `man`
/// and `lesson` without a name. `None` for every other command.
fn print_only(cli: &Cli) -> anyhow::Result<Option<ExitCode>> {
    let mut out = std::io::stdout().lock();
    match &cli.command {
        Some(Command::Config) => out.write_all(cli.effective_config.as_bytes())?,
        Some(Command::Completions(args)) => docs::completions(args.shell, &mut out),
        Some(Command::Man) => docs::man(&lessons(cli)?, &mut out)?,
        Some(Command::Lesson(LessonArgs { name: None })) => {
            out.write_all(lessons(cli)?.listing().as_bytes())?
        }
        _ => return Ok(None),
    }
    out.flush()?;
    Ok(Some(ExitCode::SUCCESS))
}

/// The built-in lessons and those of `--lessons DIR`.
fn lessons(cli: &Cli) -> anyhow::Result<Catalog> {
    Ok(Catalog::load(cli.classroom.lessons.as_deref())?)
}

/// What a terminal-UI mode is given besides its network settings; a lesson that does not
/// exist is an error here, before the terminal is needed.
fn ui_options(cli: &Cli, log: Option<session_log::SessionLog>) -> anyhow::Result<tui::UiOptions> {
    let lessons = Arc::new(lessons(cli)?);
    let lesson = match &cli.command {
        Some(Command::Lesson(LessonArgs { name: Some(name) })) => {
            Some(lessons.find(name).ok_or_else(|| {
                anyhow::anyhow!("no lesson called '{name}'; lessons: {}", lessons.names())
            })?)
        }
        _ => None,
    };
    Ok(tui::UiOptions {
        view: cli.classroom.view(),
        lessons,
        lesson,
        log,
    })
}

async fn dispatch(cli: Cli, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    signals::cancel_on_signals(shutdown.clone())?;
    let needs_terminal = match &cli.command {
        None | Some(Command::Connect(_) | Command::Lesson(_)) => true,
        Some(Command::Serve(args)) => !args.headless,
        Some(Command::Ping(_) | Command::Bench(_)) => false,
        // Printed before the runtime started (`print_only`).
        Some(Command::Config | Command::Completions(_) | Command::Man) => false,
    };
    if needs_terminal {
        // A lesson that does not exist or a broken lesson file is said first.
        ui_options(&cli, None)?;
        terminal::require_terminal()?;
    }
    let side_by_side = matches!(cli.command, None | Some(Command::Lesson(_)));
    if cli.listen_typed && !side_by_side {
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
    // `--congestion` too is the client's, and an algorithm the kernel lacks is refused now,
    // in one line naming those it has, rather than on every connection.
    if let Some(algorithm) = cli.client.congestion {
        if let Some(Command::Serve(_)) = cli.command {
            anyhow::bail!(
                "--congestion sets the client's congestion control: use it with echotui, connect, ping or bench"
            );
        }
        net::sockinfo::congestion::check(algorithm).map_err(anyhow::Error::msg)?;
    }
    let transport = cli.transport.transport();
    match &cli.command {
        None | Some(Command::Lesson(_)) => {
            let impairments = cli.impair.impairments();
            let listen = cli.listen.as_deref();
            let (server, client) = (&cli.server, &cli.client);
            let ui = ui_options(&cli, log)?;
            tui::side_by_side(listen, server, client, transport, impairments, ui, shutdown).await
        }
        Some(Command::Serve(args)) if args.headless => {
            let mask = cli.classroom.mask_addresses;
            headless::serve::run(args, &cli.server, transport, mask, shutdown).await
        }
        Some(Command::Serve(args)) => {
            let ui = ui_options(&cli, None)?;
            tui::serve(args, &cli.server, transport, ui, shutdown).await
        }
        Some(Command::Connect(args)) => {
            let impairments = args.impair.impairments();
            let client = &cli.client;
            let ui = ui_options(&cli, log)?;
            tui::connect(&args.target, client, transport, impairments, ui, shutdown).await
        }
        Some(Command::Ping(args)) => {
            headless::ping::run(args, &cli.server, &cli.client, transport, log, shutdown).await
        }
        Some(Command::Bench(args)) => {
            headless::bench::run(args, &cli.server, &cli.client, transport, shutdown).await
        }
        Some(Command::Config | Command::Completions(_) | Command::Man) => Ok(ExitCode::SUCCESS),
    }
}
