//! The three terminal-UI modes: side by side (default), `serve` and `connect`.
//!
//! Everything that can fail because of the user's input (binding, resolving, the first
//! connect) happens before the terminal is taken over, so the error is a plain `error:` line.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::EventStream as TerminalEvents;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::app::model::{ClientPane, ServerPane, ViewSettings};
use crate::cli::{ClientOpts, ServeArgs, ServerOpts};
use crate::lesson::{Catalog, Lesson};
use crate::net::impair::{Impairments, Proxy};
use crate::net::practice::PracticeClients;
use crate::net::serve::{self, Protocols, RunningServer};
use crate::net::{
    self, ClientHandle, ClientSettings, EventSink, EventStream, ServerControl, ServerSettings,
    Transport,
};
use crate::runtime;
use crate::runtime::Controls;
use crate::session_log::SessionLog;
use crate::terminal::TerminalGuard;
use crate::units;

/// The tutorial's port; the default mode tries it first.
pub const TUTORIAL_PORT: u16 = 12345;
/// Network events that may wait for the UI before the server starts dropping them.
const EVENT_QUEUE: usize = 16 * 1024;

/// What every UI mode is given besides its network settings.
#[derive(Debug, Default)]
pub struct UiOptions {
    /// Theme, presenter mode, masking, mouse.
    pub view: ViewSettings,
    /// The lessons `/lesson NAME` can start.
    pub lessons: Arc<Catalog>,
    /// The lesson to open at once (`echotui lesson NAME`).
    pub lesson: Option<Arc<Lesson>>,
    /// `--log FILE`: the session record (modes with a client).
    pub log: Option<SessionLog>,
}

/// `echotui`: embedded server and client side by side. The server answers TCP and UDP on
/// the same port, so `/udp` and `/tcp` can switch the client live.
pub async fn side_by_side(
    listen: Option<&str>,
    server_opts: &ServerOpts,
    client_opts: &ClientOpts,
    transport: Transport,
    impairments: Impairments,
    mut ui: UiOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let (sink, stream) = net::event::channel(EVENT_QUEUE);
    let control = ServerControl::with(server_opts.single()?);
    let start = |addr| {
        serve::start(
            addr,
            Protocols::Both,
            server_opts.backlog,
            ServerSettings::default(),
            control.clone(),
            sink.clone(),
            shutdown.clone(),
        )
    };
    let mut notices = Vec::new();
    let server = match listen {
        // An address the user chose is used as it is, or it is an error.
        Some(listen) => start(net::resolve(listen).await?).await?,
        None => {
            let tutorial = SocketAddr::from((Ipv4Addr::LOCALHOST, TUTORIAL_PORT));
            match start(tutorial).await {
                Ok(server) => server,
                Err(_) => {
                    let server = start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
                    let port = server.addr.port();
                    notices.push(format!(
                        "port {TUTORIAL_PORT} is busy: the server is on {port}"
                    ));
                    server
                }
            }
        }
    };
    if transport == Transport::Udp && server.protocols != Protocols::Both {
        anyhow::bail!(
            "--udp: the embedded server could not answer UDP on {}",
            server.addr
        );
    }
    notices.extend(server.notices.iter().cloned());
    let target = loopback_to(server.addr);
    let client = start_client(target, client_opts, transport, impairments, sink, &shutdown).await?;
    let mut pane = ServerPane::new(server.addr, server.protocols, control.behaviour());
    pane.banner = notices;
    let mut client_pane = client.pane;
    client_pane.framing = server_opts.frame;
    let mut app = App::new(Some(client_pane), Some(pane), chrono::Local::now());
    app.impairments = Some(impairments);
    let practice = PracticeClients::new(target, control.clone(), shutdown.clone());
    let controls = Controls {
        client: Some(client.handle),
        server: Some(control),
        proxy: Some(client.proxy),
        log: ui.log.take(),
        practice: Some(practice),
    };
    run_ui(app, ui, stream, controls, shutdown, server).await
}

/// `echotui serve` with the UI.
pub async fn serve(
    args: &ServeArgs,
    server_opts: &ServerOpts,
    transport: Transport,
    ui: UiOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let (sink, stream) = net::event::channel(EVENT_QUEUE);
    let settings = ServerSettings {
        limits: args.into(),
        ..ServerSettings::default()
    };
    let (server, control) = serve::start_at(
        &args.listen,
        transport.into(),
        server_opts.backlog,
        settings,
        server_opts.single()?,
        sink,
        shutdown.clone(),
    )
    .await?;
    let mut pane = ServerPane::new(server.addr, server.protocols, control.behaviour());
    pane.banner = server.notices.clone();
    let app = App::new(None, Some(pane), chrono::Local::now());
    let practice =
        PracticeClients::new(loopback_to(server.addr), control.clone(), shutdown.clone());
    let controls = Controls {
        client: None,
        server: Some(control),
        proxy: None,
        log: None,
        practice: Some(practice),
    };
    run_ui(app, ui, stream, controls, shutdown, server).await
}

/// `echotui connect HOST:PORT`.
pub async fn connect(
    target: &str,
    client_opts: &ClientOpts,
    transport: Transport,
    impairments: Impairments,
    mut ui: UiOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let (sink, stream) = net::event::channel(EVENT_QUEUE);
    let target = net::resolve(target).await?;
    let client = start_client(target, client_opts, transport, impairments, sink, &shutdown).await?;
    let mut app = App::new(Some(client.pane), None, chrono::Local::now());
    app.impairments = Some(impairments);
    let controls = Controls {
        client: Some(client.handle),
        server: None,
        proxy: Some(client.proxy),
        log: ui.log.take(),
        practice: None,
    };
    run_ui(app, ui, stream, controls, shutdown, None).await
}

/// Where this machine reaches a server listening on `addr`: a server on every interface is
/// reached, from here, on loopback.
fn loopback_to(mut addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// A started client: its pane, its actor, and the impairment proxy in front of its server.
struct StartedClient {
    pane: ClientPane,
    handle: ClientHandle,
    proxy: Proxy,
}

/// Starts the impairment proxy in front of `server` and the client actor, which goes through
/// the proxy only while the link is impaired (a clean link takes no extra hop). Over TCP the
/// first connection is made here, so a wrong address fails on the command line; UDP has no
/// handshake that could fail.
async fn start_client(
    server: SocketAddr,
    opts: &ClientOpts,
    transport: Transport,
    impairments: Impairments,
    sink: EventSink,
    shutdown: &CancellationToken,
) -> anyhow::Result<StartedClient> {
    let settings = ClientSettings {
        transport,
        nodelay: !opts.nagle,
        clock: opts.clock,
        congestion: opts.congestion,
        ..ClientSettings::default()
    };
    let proxy = net::impair::start(server, impairments, shutdown).await?;
    let target = if impairments.is_none() {
        server
    } else {
        proxy.addr
    };
    let first = match transport {
        Transport::Tcp => Some(first_connection(target, &settings, shutdown).await?),
        Transport::Udp => None,
    };
    let handle = net::client::spawn(target, settings, first, sink, shutdown.clone());
    let mut pane = ClientPane::new(server, transport, opts.nagle);
    pane.via_proxy = !impairments.is_none();
    Ok(StartedClient {
        pane,
        handle,
        proxy,
    })
}

/// How long the first connection may take before stderr says what we are waiting for.
const SAY_CONNECTING_AFTER: Duration = Duration::from_secs(1);

/// The first TCP connection, made before the UI opens so that a wrong address fails on the
/// command line. An address that does not answer (or a full accept queue dropping our SYN)
/// can take up to the connect timeout: after a second, stderr says so; Ctrl-C gives up.
async fn first_connection(
    target: SocketAddr,
    settings: &ClientSettings,
    shutdown: &CancellationToken,
) -> anyhow::Result<(tokio::net::TcpStream, Duration)> {
    let connecting = net::connect(target, settings.nodelay, settings.connect_timeout);
    tokio::pin!(connecting);
    let mut said = false;
    loop {
        tokio::select! {
            connected = &mut connecting => return Ok(connected?),
            () = shutdown.cancelled() => anyhow::bail!("gave up connecting to {target}"),
            () = tokio::time::sleep(SAY_CONNECTING_AFTER), if !said => {
                eprintln!(
                    "connecting to {target}… (giving up after {}; Ctrl-C to stop now)",
                    units::duration(settings.connect_timeout)
                );
                said = true;
            }
        }
    }
}

/// Runs the UI until the user quits, then stops every network task (and, when this mode has
/// one, waits for the server to let go of its port) before the terminal is restored.
async fn run_ui(
    mut app: App,
    ui: UiOptions,
    events: EventStream,
    controls: Controls,
    shutdown: CancellationToken,
    server: impl Into<Option<RunningServer>>,
) -> anyhow::Result<ExitCode> {
    // A background task that panics, for the tests that prove a panic anywhere ends the run.
    #[cfg(debug_assertions)]
    if crate::panics::injected("network") {
        tokio::spawn(async {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            panic!("injected panic in a background task (ECHOTUI_TEST_PANIC=network)");
        });
    }
    app.color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    app.view = ui.view;
    app.lessons = ui.lessons;
    if let Some(lesson) = &ui.lesson {
        crate::app::update::start_lesson(&mut app, &lesson.name);
    }
    let mut guard = TerminalGuard::enter(app.view.mouse)?;
    let result = runtime::run(
        &mut guard.terminal,
        &mut app,
        TerminalEvents::new(),
        events,
        controls,
        shutdown.clone(),
    )
    .await;
    // Stop every network task before the terminal is restored and the runtime dropped.
    shutdown.cancel();
    if let Some(server) = server.into() {
        server.stopped().await;
    }
    drop(guard);
    result.map(|()| ExitCode::SUCCESS)
}
