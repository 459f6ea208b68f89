//! The UI loop: terminal input, network events and a tick, turned into `Msg`s for `update`,
//! with redraws only when something changed and at most ~30 per second.
//!
//! Generic over the ratatui backend and the input stream, so tests drive it with a
//! `TestBackend` and scripted keys.

use std::io;
use std::time::Duration;

use crossterm::event::{Event, MouseEvent, MouseEventKind};
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::app::model::SocketLook;
use crate::app::{App, Effect, Msg, update};
use crate::net::impair::Proxy;
use crate::net::practice::PracticeClients;
use crate::net::{ClientCommand, ClientEvent, ClientHandle, EventStream, NetEvent, ServerControl};
use crate::session_log::SessionLog;
use crate::ui;

/// Shortest time between two frames (~30 fps): a flood of events costs at most this many draws.
const FRAME: Duration = Duration::from_millis(33);
/// Refresh of ages and counters when nothing else happens. Idle cost: one diff per second.
const TICK: Duration = Duration::from_secs(1);
/// Network events applied per wake-up before the loop looks at the keyboard again.
const EVENT_BATCH: usize = 1024;
/// How often the kernel is asked about the connection's sockets while the socket view (or
/// a close lesson) wants it: four times a second, as a person can follow.
const SOCKET_LOOK: Duration = Duration::from_millis(250);
/// A lesson types one character per tick: fast enough not to keep a class waiting, slow
/// enough to be followed.
const TYPING: Duration = Duration::from_millis(40);
/// How long a frame waits after a message is handed to the client. A frame keeps a CPU busy
/// for 1-3 ms (and the terminal another while it paints): on two cores, drawn at once, it
/// delayed the client's wake-up from Enter to the socket (48 typed messages: median 76 µs,
/// p90 1.18 ms, a third over 0.3 ms). Held this long, the message is out, and a loopback echo
/// back, before the screen competes (median 54 µs, p90 64 µs, max 123 µs). Invisible to a
/// reader; it adds at most one [`FRAME`], so a stream of sends cannot starve the screen.
const SEND_FIRST: Duration = Duration::from_millis(3);

/// The handles through which effects reach the network: what this mode has running.
#[derive(Debug, Default)]
pub struct Controls {
    pub client: Option<ClientHandle>,
    pub server: Option<ServerControl>,
    /// The impairment proxy in front of the client's server, when this mode has a client.
    pub proxy: Option<Proxy>,
    /// `--log FILE`: the session record.
    pub log: Option<SessionLog>,
    /// Practice clients for the embedded server, when this mode has one.
    pub practice: Option<PracticeClients>,
}

/// Runs the UI until the user quits, the input ends, or `shutdown` is cancelled.
pub async fn run<B, I>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    mut input: I,
    mut events: EventStream,
    mut controls: Controls,
    shutdown: CancellationToken,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    I: Stream<Item = io::Result<Event>> + Unpin,
{
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut looks = tokio::time::interval(SOCKET_LOOK);
    looks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut typing = tokio::time::interval(TYPING);
    typing.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut dirty = true;
    let mut last_frame: Option<Instant> = None;
    let mut network_open = true;
    let mut sent_at: Option<Instant> = None;
    loop {
        let frame_due = last_frame.map_or(Instant::now(), |at| at + FRAME);
        let frame_due = sent_at.map_or(frame_due, |at| {
            frame_due.max(at + SEND_FIRST).min(frame_due + FRAME)
        });
        if dirty && Instant::now() >= frame_due {
            app.now = chrono::Local::now();
            let mut viewport = app.viewport;
            off_the_network(|| terminal.draw(|frame| viewport = ui::draw(frame, app)))?;
            // What fits in each pane is one page for PgUp/PgDn next time.
            app.viewport = viewport;
            #[cfg(debug_assertions)]
            if crate::panics::injected("ui") {
                panic!("injected panic in the UI task (ECHOTUI_TEST_PANIC=ui)");
            }
            dirty = false;
            last_frame = Some(Instant::now());
        }
        let msg = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep_until(frame_due), if dirty => continue,
            input = input.next() => match input {
                Some(Ok(Event::Key(key))) => Msg::Key(key),
                Some(Ok(Event::Paste(text))) => Msg::Paste(text),
                // The pointer moving or a button let go changes nothing: no redraw for it.
                Some(Ok(Event::Mouse(mouse))) if matters(&mouse) => Msg::Mouse(mouse),
                Some(Ok(Event::Resize(..))) => {
                    terminal.autoresize()?;
                    dirty = true;
                    continue;
                }
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Err(err.into()),
                None => return Ok(()),
            },
            event = events.recv(), if network_open => match event {
                Some(event) => Msg::Net(event),
                None => {
                    network_open = false;
                    continue;
                }
            },
            _ = looks.tick(), if app.wants_socket_looks() => match look_at_sockets(app, &controls) {
                Some(look) => Msg::Sockets(Box::new(look)),
                None => continue,
            },
            _ = typing.tick(), if app.lesson.as_ref().is_some_and(|run| run.typing()) => Msg::Typing,
            _ = tick.tick() => {
                if let Some(log) = &mut controls.log {
                    log.flush()?;
                }
                Msg::Tick {
                    dropped_events: events.dropped(),
                    census: controls.server.as_ref().map(ServerControl::snapshot),
                }
            }
        };
        dirty = true;
        app.now = chrono::Local::now();
        let sent = sent_so_far(app);
        if apply(app, msg, &mut controls) {
            return quit(app, &mut controls);
        }
        if sent_so_far(app) > sent {
            sent_at = Some(Instant::now());
        }
        // Take what else is already waiting before drawing: one frame per burst, not per event.
        for _ in 0..EVENT_BATCH {
            let Some(event) = events.try_recv() else {
                break;
            };
            if apply(app, Msg::Net(event), &mut controls) {
                return quit(app, &mut controls);
            }
        }
    }
}

/// Messages the UI has handed to its client so far: when it grows, a message is on its way
/// to the socket.
fn sent_so_far(app: &App) -> u64 {
    app.client.as_ref().map_or(0, |client| client.counts.sent)
}

/// Runs `draw` without holding up the network tasks that share this worker thread.
///
/// A frame takes 1-3 ms to write, and forever while the terminal is frozen (Ctrl-S, a
/// stopped terminal emulator). Meanwhile this worker runs nothing else: a message just typed
/// woke the client's task into this worker's next slot (tokio runs a task woken from a
/// worker there, and no other worker may take it), so it would reach the socket only after
/// the frame, and show as `queued`. `block_in_place` hands the worker's queue to another
/// thread first, so the network never waits for the screen.
fn off_the_network<R>(draw: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(draw),
        // A single-threaded runtime has no other thread to hand its tasks to.
        _ => draw(),
    }
}

/// Asks the kernel about the client's socket and, when this UI runs the server too, the
/// server's end of the same connection: two sockets, nothing else.
fn look_at_sockets(app: &App, controls: &Controls) -> Option<SocketLook> {
    let client = controls.client.as_ref()?.socket().sample();
    let server = app
        .server_end()
        .zip(controls.server.as_ref())
        .map(|(conn, server)| (conn, server.census().sample(conn)));
    Some(SocketLook { client, server })
}

/// Whether a mouse event can change anything: a press or a wheel turn.
fn matters(mouse: &MouseEvent) -> bool {
    matches!(
        mouse.kind,
        MouseEventKind::Down(_) | MouseEventKind::ScrollUp | MouseEventKind::ScrollDown
    )
}

/// The user quit: the session record gets an outcome for every message still outstanding
/// (the network will not report them any more) and is written out.
fn quit(app: &App, controls: &mut Controls) -> anyhow::Result<()> {
    if let Some(log) = &mut controls.log {
        let outstanding = app
            .client
            .iter()
            .flat_map(|client| client.outstanding_ids());
        log.quit(outstanding);
        log.flush()?;
    }
    Ok(())
}

/// Updates the state and carries out the effects; `true` means quit.
fn apply(app: &mut App, msg: Msg, controls: &mut Controls) -> bool {
    if let (Some(log), Msg::Net(NetEvent::Client(event))) = (&mut controls.log, &msg) {
        log.client_event(event);
    }
    for effect in update(app, msg) {
        match effect {
            Effect::Quit => return true,
            Effect::Server(command) => {
                if let Some(server) = &controls.server {
                    server.apply(command);
                }
            }
            Effect::PracticeClients(n) => {
                if let Some(practice) = &mut controls.practice {
                    practice.set(n);
                }
            }
            Effect::Impair(impairments) => {
                let Some(proxy) = &controls.proxy else {
                    continue;
                };
                let was_clean = proxy.control.get().is_none();
                proxy.control.set(impairments);
                // A clean link takes no detour: the proxy's extra hop would add latency to
                // every RTT. The client reconnects when the route changes.
                if was_clean != impairments.is_none() {
                    let target = if impairments.is_none() {
                        proxy.upstream
                    } else {
                        proxy.addr
                    };
                    let command = ClientCommand::SetTarget(target);
                    if let Some(client) = &controls.client
                        && let Err(busy) = client.command(command)
                    {
                        app.show_error(busy.to_string());
                    }
                }
            }
            Effect::Client(command) => {
                let Some(client) = &controls.client else {
                    continue;
                };
                if let (Some(log), ClientCommand::Send(messages)) = (&mut controls.log, &command) {
                    for message in messages {
                        log.sent(message.id, &message.bytes);
                    }
                }
                let ids = match &command {
                    ClientCommand::Send(messages) => messages.first().zip(messages.last()),
                    _ => None,
                }
                .map(|(first, last)| first.id..last.id + 1);
                if let Err(busy) = client.command(command) {
                    // Messages that never reached the client are settled as not sent, like
                    // any other, so the counts and the record stay true.
                    let reason = busy.to_string();
                    match ids {
                        Some(ids) => {
                            let failed = ClientEvent::SendFailed { ids, reason };
                            if let Some(log) = &mut controls.log {
                                log.client_event(&failed);
                            }
                            update(app, Msg::Net(NetEvent::Client(failed)));
                        }
                        None => app.show_error(reason),
                    }
                }
            }
        }
    }
    false
}
