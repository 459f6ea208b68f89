//! What is shown over or instead of the panes: the help (F1, Esc), what it adds for an
//! impaired link, and the note for a terminal too small. Review every snapshot by eye.

use super::*;

#[test]
fn help_overlay_80x24() {
    let mut app = hello_world();
    update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)),
    );
    snapshot_beside_the_others("help_overlay_80x24", render(&app, 80, 24));
}

/// The help's end at 80×24, scrolled to: every note is read whole, wrapped, none cut at the
/// overlay's edge.
#[test]
fn the_end_of_the_help_is_read_whole_at_80x24() {
    let mut app = hello_world();
    key(&mut app, KeyCode::F(1));
    for _ in 0..10 {
        key(&mut app, KeyCode::PageDown);
    }
    let screen = render(&app, 80, 24);
    for end in [
        "send those bytes",
        "drag to select text as usual.",
        "it is not part of the",
        "never sent to the",
    ] {
        assert!(screen.contains(end), "{end:?} is cut:\n{screen}");
    }
}

#[test]
fn help_closes_with_esc() {
    let mut app = hello_world();
    key(&mut app, KeyCode::F(1));
    key(&mut app, KeyCode::Esc);
    assert_eq!(render(&app, 80, 24), render(&hello_world(), 80, 24));
}

/// An impaired link: the client title says so, the status bar lists the impairments and
/// which of them TCP cannot apply, and the help shows the equivalent netem command.
#[test]
fn impaired_link_80x24_and_its_help() {
    let mut app = hello_world();
    app.impairments = Some(Default::default());
    type_line(&mut app, 1000, "/delay 50ms");
    type_line(&mut app, 1100, "/loss 10%");
    snapshot_beside_the_others("impaired_link_80x24_and_its_help", render(&app, 80, 24));
    key(&mut app, KeyCode::F(1));
    // The netem line is at the end of the help: scroll down to it.
    for _ in 0..5 {
        key(&mut app, KeyCode::PageDown);
    }
    let help = render(&app, 120, 40);
    assert!(
        help.contains("tc qdisc add dev eth0 root netem delay 50ms loss 10%"),
        "{help}"
    );
}

#[test]
fn too_small_terminal_says_so() {
    let screen = render(&hello_world(), 79, 24);
    assert!(
        screen.contains("terminal too small (need 80×24, have 79×24)"),
        "{screen}"
    );
    snapshot_beside_the_others("too_small_terminal_says_so", render(&hello_world(), 40, 10));
}

/// A busy lesson's status bar at 80 columns (half-closed, an impaired link, a paused server
/// that frames lines and thinks): every part shortens, none is cut mid-word, and the help
/// key is always there.
#[test]
fn a_busy_status_bar_fits_80_columns_whole() {
    let mut app = hello_world();
    app.impairments = Some(Default::default());
    for (ms, line) in [
        "/delay 50ms",
        "/jitter 10ms",
        "/loss 10%",
        "/pause",
        "/frame line",
        "/server think 200ms",
        "/close",
    ]
    .into_iter()
    .enumerate()
    {
        type_line(&mut app, 1000 + ms as i64, line);
    }
    client(&mut app, 2000, ClientEvent::HalfClosed);
    let screen = render(&app, 80, 24);
    let status = screen.lines().last().unwrap().trim_matches('"').trim_end();
    assert!(
        status.ends_with("F1 help") || status.ends_with("Ctrl-C quit"),
        "the bar is cut: {status:?}"
    );
}
