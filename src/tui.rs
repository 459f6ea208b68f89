//! The three terminal-UI modes: side by side (default), `serve` and `connect`.
//!
//! Everything that can fail because of the user's input (binding, resolving, the first
//! connect) happens before the terminal is taken over, so the error is a plain `error:` line.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use crossterm::event::EventStream as TerminalEvents;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::app::model::{ClientPane, ServerPane};
use crate::cli::{ClientOpts, ServeArgs, ServerOpts};
use crate::net::impair::{Impairments, Proxy};
use crate::net::{
    self, ClientHandle, ClientSettings, EventSink, EventStream, NetError, ServerControl,
    ServerSettings, Transport,
};
use crate::runtime::Controls;
use crate::session_log::SessionLog;
use crate::terminal::TerminalGuard;
use crate::{runtime, signals};

/// The tutorial's port; the default mode tries it first.
pub const TUTORIAL_PORT: u16 = 12345;
/// Network events that may wait for the UI before the server starts dropping them.
const EVENT_QUEUE: usize = 16 * 1024;

/// `echotui`: embedded server and client side by side. The server answers TCP and UDP on
/// the same port, so `/udp` and `/tcp` can switch the client live.
pub async fn side_by_side(
    server_opts: &ServerOpts,
    client_opts: &ClientOpts,
    transport: Transport,
    impairments: Impairments,
    log: Option<SessionLog>,
) -> anyhow::Result<ExitCode> {
    let shutdown = CancellationToken::new();
    let (sink, stream) = net::event::channel(EVENT_QUEUE);
    let tutorial = SocketAddr::from((Ipv4Addr::LOCALHOST, TUTORIAL_PORT));
    let (listener, mut notices) = match net::listen(tutorial).await {
        Ok(listener) => (listener, Vec::new()),
        Err(_) => {
            let listener = net::listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
            let port = listener.local_addr()?.port();
            let notice = format!("port {TUTORIAL_PORT} busy: server on {port}");
            (listener, vec![notice])
        }
    };
    let listen = listener.local_addr()?;
    let control = ServerControl::new(server_opts.read_size);
    tokio::spawn(net::server::run(
        listener,
        ServerSettings::default(),
        control.clone(),
        sink.clone(),
        shutdown.clone(),
    ));
    let protocols = match UdpSocket::bind(listen).await {
        Ok(socket) => {
            tokio::spawn(net::udp::run(
                socket,
                ServerSettings::default(),
                control.clone(),
                sink.clone(),
                shutdown.clone(),
            ));
            "TCP+UDP"
        }
        Err(err) if transport == Transport::Tcp => {
            notices.push(format!("no UDP on {listen}: {}", net::describe(&err)));
            "TCP"
        }
        Err(cause) => {
            return Err(NetError::Listen {
                addr: listen,
                cause,
            }
            .into());
        }
    };
    let client = start_client(listen, client_opts, transport, impairments, sink, &shutdown).await?;
    let mut server = ServerPane::new(listen, protocols, server_opts.read_size);
    server.banner = notices;
    let mut app = App::new(Some(client.pane), Some(server), chrono::Local::now());
    app.impairments = Some(impairments);
    let controls = Controls {
        client: Some(client.handle),
        server: Some(control),
        proxy: Some(client.proxy),
        log,
    };
    run_ui(app, stream, controls, shutdown).await
}

/// `echotui serve` with the UI.
pub async fn serve(
    args: &ServeArgs,
    server_opts: &ServerOpts,
    transport: Transport,
) -> anyhow::Result<ExitCode> {
    let shutdown = CancellationToken::new();
    let (sink, stream) = net::event::channel(EVENT_QUEUE);
    let settings = ServerSettings {
        limits: crate::headless::serve::limits(args),
        ..ServerSettings::default()
    };
    let control = ServerControl::new(server_opts.read_size);
    let (listen, _server) = crate::headless::serve::start(
        &args.listen,
        transport,
        settings,
        control.clone(),
        sink,
        shutdown.clone(),
    )
    .await?;
    let protocols = match transport {
        Transport::Tcp => "TCP",
        Transport::Udp => "UDP",
    };
    let server = ServerPane::new(listen, protocols, server_opts.read_size);
    let app = App::new(None, Some(server), chrono::Local::now());
    let controls = Controls {
        client: None,
        server: Some(control),
        proxy: None,
        log: None,
    };
    run_ui(app, stream, controls, shutdown).await
}

/// `echotui connect HOST:PORT`.
pub async fn connect(
    target: &str,
    client_opts: &ClientOpts,
    transport: Transport,
    impairments: Impairments,
    log: Option<SessionLog>,
) -> anyhow::Result<ExitCode> {
    let shutdown = CancellationToken::new();
    let (sink, stream) = net::event::channel(EVENT_QUEUE);
    let target = net::resolve(target).await?;
    let client = start_client(target, client_opts, transport, impairments, sink, &shutdown).await?;
    let mut app = App::new(Some(client.pane), None, chrono::Local::now());
    app.impairments = Some(impairments);
    let controls = Controls {
        client: Some(client.handle),
        server: None,
        proxy: Some(client.proxy),
        log,
    };
    run_ui(app, stream, controls, shutdown).await
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
        ..ClientSettings::default()
    };
    let proxy = net::impair::start(server, impairments, shutdown).await?;
    let target = if impairments.is_none() {
        server
    } else {
        proxy.addr
    };
    let first = match transport {
        Transport::Tcp => {
            Some(net::connect(target, settings.nodelay, settings.connect_timeout).await?)
        }
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

async fn run_ui(
    mut app: App,
    events: EventStream,
    controls: Controls,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    app.color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut guard = TerminalGuard::enter()?;
    signals::cancel_on_signals(shutdown.clone())?;
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
    drop(guard);
    result.map(|()| ExitCode::SUCCESS)
}
