use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::app::model::{ClientPane, ClientRowKind, ServerPane};
use crate::net::{ClientCommand, ClientEvent, CloseReason, Transport};
use crate::stats::{Clock, EchoUpdate};

/// Both panes on `addr`, as `echotui` starts them: the client not connected yet.
pub(super) fn side_by_side(addr: &str) -> App {
    let addr = addr.parse().unwrap();
    App::new(
        Some(ClientPane::new(addr, Transport::Tcp, false)),
        Some(ServerPane::new(
            addr,
            crate::net::serve::Protocols::Both,
            crate::net::ServerControl::new(1024).behaviour(),
        )),
        chrono::Local::now(),
    )
}

/// `app` once its client has connected (in 50 µs).
pub(super) fn connected(mut app: App) -> App {
    let target = app.client.as_ref().unwrap().target;
    let event = ClientEvent::Connected {
        local: target,
        peer: target,
        connect_time: Some(Duration::from_micros(50)),
        clock: Clock::Kernel,
    };
    update(&mut app, Msg::Net(NetEvent::Client(event)));
    app
}

/// A client alone (`echotui connect`), connected.
fn connected_app() -> App {
    let target = "127.0.0.1:7".parse().unwrap();
    let client = ClientPane::new(target, Transport::Tcp, false);
    connected(App::new(Some(client), None, chrono::Local::now()))
}

pub(super) fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// Types `line` on the message line and presses Enter.
pub(super) fn submit(app: &mut App, line: &str) -> Vec<Effect> {
    for c in line.chars() {
        press(app, KeyCode::Char(c));
    }
    press(app, KeyCode::Enter)
}

fn client(app: &App) -> &ClientPane {
    app.client.as_ref().unwrap()
}

fn last_row(app: &App) -> &ClientRowKind {
    &client(app).rows.rows().back().unwrap().kind
}

fn sent_bytes(effects: &[Effect]) -> Vec<Vec<u8>> {
    match effects {
        [Effect::Client(ClientCommand::Send(messages))] => {
            messages.iter().map(|m| m.bytes.to_vec()).collect()
        }
        other => panic!("not one send: {other:?}"),
    }
}

fn echo(app: &mut App, update_: EchoUpdate) {
    update(app, Msg::Net(NetEvent::Client(ClientEvent::Echo(update_))));
}

#[test]
fn repeat_numbers_its_messages_and_sends_them_as_one_command() {
    let mut app = connected_app();
    let effects = submit(&mut app, "/repeat 3 x");
    assert_eq!(
        sent_bytes(&effects),
        [b"x 1".to_vec(), b"x 2".to_vec(), b"x 3".to_vec()]
    );
    let [Effect::Client(ClientCommand::Send(messages))] = effects.as_slice() else {
        unreachable!()
    };
    let ids: Vec<_> = messages.iter().map(|m| m.id).collect();
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(client(&app).counts.sent, 3);
}

#[test]
fn an_empty_line_does_nothing_and_slash_slash_sends_a_slash() {
    let mut app = connected_app();
    assert!(submit(&mut app, "").is_empty());
    assert_eq!(sent_bytes(&submit(&mut app, "//x")), [b"/x".to_vec()]);
}

#[test]
fn escapes_in_the_line_send_the_bytes_they_name() {
    let mut app = connected_app();
    let effects = submit(&mut app, r"GET / HTTP/1.0\r\n\r\n\x00\u{202E}");
    assert_eq!(
        sent_bytes(&effects),
        [b"GET / HTTP/1.0\r\n\r\n\x00\xe2\x80\xae".to_vec()]
    );
    assert!(submit(&mut app, r"C:\dir").is_empty());
    assert_eq!(
        last_row(&app),
        &ClientRowKind::Error(
            r"not sent: unknown escape \d (escapes: \n \r \t \0 \\ \xNN \u{XXXX})".into()
        )
    );
}

#[test]
fn a_paste_is_one_message_with_newlines_and_tabs_kept() {
    let mut app = connected_app();
    assert!(update(&mut app, Msg::Paste("a\nb\tc".into())).is_empty());
    assert_eq!(app.input.value(), r"a\nb\tc");
    assert_eq!(
        sent_bytes(&press(&mut app, KeyCode::Enter)),
        [b"a\nb\tc".to_vec()]
    );
}

#[test]
fn tab_completes_commands_and_otherwise_moves_focus() {
    let mut app = side_by_side("127.0.0.1:7");
    for c in "/qu".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.input.value(), "/quit ");
    assert_eq!(app.focus, crate::app::Focus::Client);
    app.input.set("/re");
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.input.value(), "/re", "ambiguous: nothing to add");
    assert!(
        matches!(last_row(&app), ClientRowKind::Notice(n) if n.starts_with("commands: /reconnect /reset"))
    );
    app.input.set("hello");
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, crate::app::Focus::Server);
}

#[test]
fn quit_and_exit_quit() {
    let mut app = connected_app();
    assert_eq!(submit(&mut app, "/quit"), [Effect::Quit]);
    assert_eq!(submit(&mut app, "/exit"), [Effect::Quit]);
}

#[test]
fn partial_then_complete_echo_updates_one_row_and_the_stats() {
    let mut app = connected_app();
    submit(&mut app, "/size 3000");
    for received in [1024, 2048] {
        echo(
            &mut app,
            EchoUpdate::Partial {
                id: 1,
                received,
                total: 3000,
            },
        );
    }
    echo(
        &mut app,
        EchoUpdate::Echoed {
            id: 1,
            rtt: Duration::from_micros(300),
        },
    );
    let echo_rows = client(&app)
        .rows
        .rows()
        .iter()
        .filter(|r| matches!(r.kind, ClientRowKind::Echo { .. }))
        .count();
    assert_eq!(echo_rows, 1);
    assert_eq!(client(&app).stats.count(), 1);
    assert_eq!(client(&app).pending(), 0);
}

#[test]
fn sending_while_closed_explains_instead_of_sending() {
    let mut app = connected_app();
    update(
        &mut app,
        Msg::Net(NetEvent::Client(ClientEvent::Closed(CloseReason::Reset))),
    );
    assert!(submit(&mut app, "hello").is_empty());
    assert_eq!(
        last_row(&app),
        &ClientRowKind::Error("not sent: reset; type /reconnect".into())
    );
    assert_eq!(
        submit(&mut app, "/reconnect"),
        [Effect::Client(ClientCommand::Reconnect)]
    );
}

#[test]
fn switching_to_the_transport_in_use_says_so_instead_of_reconnecting() {
    let mut app = connected_app();
    assert!(submit(&mut app, "/tcp").is_empty());
    assert_eq!(
        last_row(&app),
        &ClientRowKind::Notice("the client already speaks TCP".into())
    );
    assert_eq!(
        submit(&mut app, "/udp"),
        [Effect::Client(ClientCommand::SetTransport(Transport::Udp))]
    );
}

#[test]
fn failed_sends_are_counted_per_message() {
    let mut app = connected_app();
    submit(&mut app, "/repeat 5 x");
    let failed = ClientEvent::SendFailed {
        ids: 3..6,
        reason: "client is busy".into(),
    };
    update(&mut app, Msg::Net(NetEvent::Client(failed)));
    assert_eq!(client(&app).counts.not_sent, 3);
    assert_eq!(client(&app).pending(), 2);
    assert_eq!(
        last_row(&app),
        &ClientRowKind::Error("messages #3 to #5 not sent: client is busy".into())
    );
}

#[test]
fn quit_keys_quit_even_with_help_open() {
    let mut app = connected_app();
    press(&mut app, KeyCode::F(1));
    assert!(app.help_open);
    let quit = update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL)),
    );
    assert_eq!(quit, [Effect::Quit]);
}

#[test]
fn page_keys_move_a_page_and_home_shows_a_full_first_page() {
    let mut app = connected_app();
    for i in 0..100 {
        app.show_notice(format!("row {i}"));
    }
    app.viewport.client_rows = 10;
    let rows = client(&app).rows.rows().len();
    press(&mut app, KeyCode::PageUp);
    assert_eq!(client(&app).rows.scroll_back(10), 10);
    press(&mut app, KeyCode::Home);
    assert_eq!(client(&app).rows.scroll_back(10), rows - 10);
    press(&mut app, KeyCode::PageDown);
    assert_eq!(client(&app).rows.scroll_back(10), rows - 20);
    press(&mut app, KeyCode::End);
    assert_eq!(client(&app).rows.scroll_back(10), 0);
}

#[test]
fn clear_forgets_the_first_echo_too() {
    let mut app = connected_app();
    submit(&mut app, "hi");
    echo(
        &mut app,
        EchoUpdate::Echoed {
            id: 1,
            rtt: Duration::from_micros(9),
        },
    );
    assert!(client(&app).first_rtt.is_some());
    submit(&mut app, "/clear");
    assert_eq!(client(&app).first_rtt, None);
    assert_eq!(client(&app).stats.count(), 0);
}
