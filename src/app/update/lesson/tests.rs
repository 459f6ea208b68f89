use std::sync::Arc;

use crossterm::event::KeyCode;

use crate::app::model::App;
use crate::app::update::tests::{self, press, submit};
use crate::app::{Effect, Msg, update};
use crate::lesson::Catalog;
use crate::net::ServerCommand;

/// Both panes, connected, with the built-in lessons.
fn side_by_side() -> App {
    let mut app = tests::side_by_side("127.0.0.1:12345");
    app.lessons = Arc::new(Catalog::load(None).unwrap());
    tests::connected(app)
}

/// Ticks until the lesson stops typing; returns every effect and each line as it was entered.
fn type_out(app: &mut App) -> (Vec<Effect>, Vec<String>) {
    let (mut effects, mut entered) = (Vec::new(), Vec::new());
    for _ in 0..1000 {
        let before = app.input.value().to_owned();
        let new = update(app, Msg::Typing);
        if app.input.value().is_empty() && !before.is_empty() {
            entered.push(before);
        }
        effects.extend(new);
        if !app.lesson.as_ref().unwrap().typing() {
            return (effects, entered);
        }
    }
    panic!("the lesson never finished typing");
}

#[test]
fn a_lesson_types_each_step_once_and_steps_back_through_narration_only() {
    let mut app = side_by_side();
    submit(&mut app, "/lesson byte-stream");
    let run = app.lesson.as_ref().expect("the lesson started");
    assert_eq!((run.shown, run.ran), (0, 0), "the introduction first");

    press(&mut app, KeyCode::Right);
    assert!(app.lesson.as_ref().unwrap().typing());
    // The first tick types one character: the class sees the command being typed.
    update(&mut app, Msg::Typing);
    assert_eq!(app.input.value(), "/");
    // The instructor's keys cannot garble the line meanwhile.
    press(&mut app, KeyCode::Char('z'));
    assert_eq!(app.input.value(), "/");
    let (effects, entered) = type_out(&mut app);
    assert_eq!(entered, ["/read 7"]);
    assert_eq!(effects, [Effect::Server(ServerCommand::SetReadSize(7))]);

    press(&mut app, KeyCode::PageDown);
    let (effects, entered) = type_out(&mut app);
    assert_eq!(entered, ["Hello, World!"]);
    assert_eq!(effects.len(), 1, "one send: {effects:?}");
    assert_eq!(app.lesson.as_ref().unwrap().shown, 2);

    // Back shows step 1's narration; forward again does not type step 2 twice.
    press(&mut app, KeyCode::Left);
    assert_eq!(app.lesson.as_ref().unwrap().shown, 1);
    press(&mut app, KeyCode::Right);
    let run = app.lesson.as_ref().unwrap();
    assert_eq!((run.shown, run.ran, run.typing()), (2, 2, false));

    submit(&mut app, "/lesson off");
    assert!(app.lesson.is_none());
}

#[test]
fn right_while_typing_hurries_the_lines_without_skipping_them() {
    let mut app = side_by_side();
    submit(&mut app, "/lesson flow-control");
    press(&mut app, KeyCode::Right);
    type_out(&mut app);
    press(&mut app, KeyCode::Right);
    update(&mut app, Msg::Typing);
    press(&mut app, KeyCode::Right);
    let run = app.lesson.as_ref().unwrap();
    assert_eq!(run.shown, 2, "→ while typing does not skip a step");
    let (effects, entered) = type_out(&mut app);
    assert_eq!(entered.len(), 5, "{entered:?}");
    assert_eq!(effects.len(), 5);
}

#[test]
fn a_failing_step_shows_its_error_and_the_lesson_goes_on() {
    let mut app = side_by_side();
    app.client.as_mut().unwrap().state =
        crate::app::model::ConnState::Closed(crate::net::CloseReason::PeerClosed);
    submit(&mut app, "/lesson byte-stream");
    press(&mut app, KeyCode::Right);
    type_out(&mut app);
    press(&mut app, KeyCode::Right);
    let (effects, _) = type_out(&mut app);
    assert!(effects.is_empty(), "nothing sent on a closed connection");
    let last = format!("{:?}", app.client.as_ref().unwrap().rows.rows().back());
    assert!(last.contains("not sent"), "{last}");
    press(&mut app, KeyCode::Right);
    assert_eq!(app.lesson.as_ref().unwrap().shown, 3, "the lesson goes on");
}

#[test]
fn unknown_lessons_and_lessons_without_both_panes_are_refused() {
    let mut app = side_by_side();
    submit(&mut app, "/lesson nope");
    let last = format!("{:?}", app.client.as_ref().unwrap().rows.rows().back());
    assert!(last.contains("no lesson called 'nope'"), "{last}");
    assert!(
        last.contains("byte-stream"),
        "the error lists the lessons: {last}"
    );
    assert!(app.lesson.is_none());

    app.server = None;
    submit(&mut app, "/lesson loss");
    let last = format!("{:?}", app.client.as_ref().unwrap().rows.rows().back());
    assert!(last.contains("side by side"), "{last}");
}

#[test]
fn the_lesson_waits_for_a_reconnection_before_entering_a_line() {
    let mut app = side_by_side();
    submit(&mut app, "/lesson handshake");
    press(&mut app, KeyCode::Right);
    type_out(&mut app);
    app.client.as_mut().unwrap().state = crate::app::model::ConnState::Connecting;
    press(&mut app, KeyCode::Right);
    for _ in 0..100 {
        assert!(update(&mut app, Msg::Typing).is_empty());
    }
    assert_eq!(
        app.input.value(),
        "Hello, World!",
        "typed, waiting to be entered"
    );
    app.client.as_mut().unwrap().state = crate::app::model::ConnState::Connected;
    let (effects, _) = type_out(&mut app);
    assert_eq!(effects.len(), 1);
}

#[test]
fn tab_completes_lesson_and_theme_names() {
    let mut app = side_by_side();
    for c in "/lesson byt".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.input.value(), "/lesson byte-stream ");
    app.input.set("/theme high");
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.input.value(), "/theme high-contrast ");
    app.input.set("/re");
    press(&mut app, KeyCode::Tab);
    let last = format!("{:?}", app.client.as_ref().unwrap().rows.rows().back());
    assert!(last.contains("commands: /reconnect /reset"), "{last}");
}
