//! Keys that move through what was: PgUp and End scroll a pane, Up and Down recall typed
//! lines.

use super::*;

#[test]
fn scrolled_back_view_says_how_to_follow() {
    let mut app = hello_world();
    for i in 0..40 {
        type_line(&mut app, 1000 + i, &format!("line {i}"));
    }
    key(&mut app, KeyCode::PageUp);
    let screen = render(&app, 80, 24);
    assert!(screen.contains("rows back · End follows"), "{screen}");
    assert!(
        !screen.contains("line 39"),
        "newest row should be scrolled out of view:\n{screen}"
    );
    key(&mut app, KeyCode::End);
    let screen = render(&app, 80, 24);
    assert!(screen.contains("line 39"), "{screen}");
    assert!(!screen.contains("rows back"), "{screen}");
}

#[test]
fn history_recalls_lines_with_up_and_down() {
    let mut app = hello_world();
    type_line(&mut app, 1000, "second");
    key(&mut app, KeyCode::Up);
    assert_eq!(app.input.editor.value(), "second");
    key(&mut app, KeyCode::Up);
    assert_eq!(app.input.editor.value(), "Hello, World!");
    key(&mut app, KeyCode::Up);
    assert_eq!(app.input.editor.value(), "Hello, World!");
    key(&mut app, KeyCode::Down);
    assert_eq!(app.input.editor.value(), "second");
    key(&mut app, KeyCode::Down);
    assert_eq!(app.input.editor.value(), "");
}
