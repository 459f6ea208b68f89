//! The mouse: a click focuses the pane under it (or selects the roster row under it), the
//! wheel scrolls the pane under the pointer, a click outside the help closes it.
//!
//! Where things are comes from the last frame ([`crate::app::model::Viewport`]): the view
//! reports its rectangles, `update` never computes layout.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::keys::scroll;
use crate::app::model::{App, Focus};
use crate::app::msg::Effect;

/// Rows one notch of the wheel scrolls, as most terminals' own scrollback does.
const WHEEL_ROWS: isize = 3;

pub(super) fn on_mouse(app: &mut App, event: MouseEvent) -> Vec<Effect> {
    let at = Position::new(event.column, event.row);
    let viewport = app.viewport;
    if let Some(help) = viewport.help_area.filter(|_| app.help_open) {
        match event.kind {
            MouseEventKind::Down(MouseButton::Left) if !help.contains(at) => app.help_open = false,
            MouseEventKind::ScrollUp => app.help_scroll = app.help_scroll.saturating_sub(1),
            MouseEventKind::ScrollDown => app.help_scroll = app.help_scroll.saturating_add(1),
            _ => {}
        }
        return Vec::new();
    }
    let pane = pane_at(app, at);
    match (event.kind, pane) {
        (MouseEventKind::Down(MouseButton::Left), Some(pane)) => {
            app.focus = pane;
            if pane == Focus::Server {
                select_roster_row(app, at);
            }
        }
        (MouseEventKind::ScrollUp, Some(pane)) => scroll(app, pane, WHEEL_ROWS),
        (MouseEventKind::ScrollDown, Some(pane)) => scroll(app, pane, -WHEEL_ROWS),
        _ => {}
    }
    Vec::new()
}

/// The pane under `at`, if it is one that can have focus.
fn pane_at(app: &App, at: Position) -> Option<Focus> {
    let inside = |area: Rect| !area.is_empty() && area.contains(at);
    if app.client.is_some() && inside(app.viewport.client_area) {
        Some(Focus::Client)
    } else if app.server.is_some() && inside(app.viewport.server_area) {
        Some(Focus::Server)
    } else {
        None
    }
}

/// A click on a client in the roster selects it: the log then shows its reads alone.
fn select_roster_row(app: &mut App, at: Position) {
    let roster = app.viewport.roster;
    let Some(server) = &mut app.server else {
        return;
    };
    if !roster.area.contains(at) {
        return;
    }
    let index = roster.first + usize::from(at.y - roster.area.y);
    if let Some((conn, _)) = server.roster().get(index) {
        server.selected = Some(*conn);
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyModifiers;

    use super::*;
    use crate::app::model::RosterArea;
    use crate::app::{Msg, update};
    use crate::net::{NetEvent, ServerEvent, ServerEventKind};

    fn click(column: u16, row: u16) -> Msg {
        mouse(MouseEventKind::Down(MouseButton::Left), column, row)
    }

    fn mouse(kind: MouseEventKind, column: u16, row: u16) -> Msg {
        Msg::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    }

    /// Two panes side by side on an 80-column screen, as the view would report them.
    fn app() -> App {
        let mut app = crate::app::update::tests::side_by_side("127.0.0.1:7");
        app.viewport.client_area = Rect::new(0, 0, 40, 14);
        app.viewport.server_area = Rect::new(40, 0, 40, 14);
        app
    }

    #[test]
    fn a_click_focuses_the_pane_under_it() {
        let mut app = app();
        assert_eq!(app.focus, Focus::Client);
        update(&mut app, click(60, 5));
        assert_eq!(app.focus, Focus::Server);
        update(&mut app, click(10, 5));
        assert_eq!(app.focus, Focus::Client);
        // Below the panes (the message line): nothing changes, nothing breaks.
        update(&mut app, click(10, 20));
        assert_eq!(app.focus, Focus::Client);
        update(&mut app, mouse(MouseEventKind::Moved, 60, 5));
        assert_eq!(app.focus, Focus::Client);
    }

    #[test]
    fn a_click_on_a_roster_row_selects_that_client() {
        let mut app = app();
        for conn in 1..=3 {
            let event = ServerEvent {
                at: app.now,
                conn,
                peer: format!("10.0.0.{conn}:5000").parse().unwrap(),
                kind: ServerEventKind::Connected,
            };
            update(&mut app, Msg::Net(NetEvent::Server(event)));
        }
        // Newest first: row 0 is #3, row 1 #2.
        app.viewport.roster = RosterArea {
            area: Rect::new(41, 1, 38, 3),
            first: 0,
        };
        update(&mut app, click(50, 2));
        assert_eq!(app.focus, Focus::Server);
        assert_eq!(app.server.as_ref().unwrap().selected, Some(2));
    }

    #[test]
    fn the_wheel_scrolls_the_pane_under_the_pointer_and_a_click_outside_closes_the_help() {
        let mut app = app();
        for i in 0..40 {
            app.show_notice(format!("line {i}"));
        }
        app.viewport.client_rows = 10;
        update(&mut app, mouse(MouseEventKind::ScrollUp, 10, 5));
        let client = app.client.as_ref().unwrap();
        assert_eq!(client.rows.scroll_back(10), 3);
        app.help_open = true;
        app.viewport.help_area = Some(Rect::new(10, 2, 60, 20));
        update(&mut app, click(20, 5));
        assert!(app.help_open, "a click inside the help keeps it");
        update(&mut app, click(2, 23));
        assert!(!app.help_open);
    }
}
