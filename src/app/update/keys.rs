//! What each key does: the key table ([`crate::app::keymap`]) names the action, this applies it.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use tui_input::backend::crossterm::EventHandler;

use super::commands;
use crate::app::command;
use crate::app::keymap::{self, Action, KeyContext};
use crate::app::model::{App, Focus, ThemeName};
use crate::app::msg::Effect;

/// Further than the help overlay can ever need to scroll.
const HELP_SCROLL_MAX: u16 = 64;
/// Lines one PgUp/PgDn moves the help overlay.
const HELP_PAGE: i16 = 10;

pub(super) fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let typing = app.lesson.as_ref().is_some_and(|run| run.typing());
    let context = KeyContext {
        lesson: app.lesson.is_some(),
        line_free: typing || app.input.value().is_empty(),
    };
    let action = keymap::action_for(&key, context);
    if app.help_open {
        // The overlay keeps the keys while open: it scrolls, closes, or the program quits.
        let scroll = |by: i16| {
            app.help_scroll
                .saturating_add_signed(by)
                .min(HELP_SCROLL_MAX)
        };
        match action {
            Some(Action::Quit) => return vec![Effect::Quit],
            Some(Action::Dismiss | Action::Help) => app.help_open = false,
            Some(Action::Up) => app.help_scroll = scroll(-1),
            Some(Action::Down) => app.help_scroll = scroll(1),
            Some(Action::PageUp) => app.help_scroll = scroll(-HELP_PAGE),
            Some(Action::PageDown) => app.help_scroll = scroll(HELP_PAGE),
            _ => {}
        }
        return Vec::new();
    }
    // While a lesson types, the message line is its: the class watches the command appear.
    let Some(action) = action else {
        if !typing {
            edit(app, key);
        }
        return Vec::new();
    };
    match action {
        Action::Send if typing => {}
        Action::Send => return commands::submit_line(app),
        Action::LessonNext => super::lesson::next(app),
        Action::LessonBack => super::lesson::back(app),
        Action::Up | Action::Down => match (&mut app.server, app.focus) {
            (Some(server), Focus::Server) => {
                server.select_step(if action == Action::Up { -1 } else { 1 })
            }
            _ => app.input.browse(action == Action::Up),
        },
        Action::FocusNext if !typing && app.input.value().starts_with('/') => complete(app),
        Action::FocusNext | Action::FocusPrev => {
            // Two panes at most, so next and previous are the same move.
            if app.client.is_some() && app.server.is_some() {
                app.focus = match app.focus {
                    Focus::Client => Focus::Server,
                    Focus::Server => Focus::Client,
                };
            }
        }
        Action::PageUp => scroll_focused(app, Page::Back),
        Action::PageDown => scroll_focused(app, Page::Forward),
        Action::ScrollOldest => scroll_focused(app, Page::Oldest),
        Action::FollowNewest => scroll_focused(app, Page::Newest),
        Action::Help => {
            app.help_open = true;
            app.help_scroll = 0;
        }
        Action::NextLatencyView => {
            if let Some(client) = &mut app.client {
                client.latency_view = client.latency_view.next();
            }
        }
        Action::Dismiss => {
            if let Some(server) = &mut app.server {
                server.selected = None;
            }
        }
        Action::Quit => return vec![Effect::Quit],
    }
    Vec::new()
}

/// A key that is not bound: typing goes through the line's escaping, editing keys (arrows,
/// Backspace, Ctrl-W…) to the line editor.
fn edit(app: &mut App, key: KeyEvent) {
    match key.code {
        KeyCode::Char(c) if key.modifiers - KeyModifiers::SHIFT == KeyModifiers::NONE => {
            app.input.type_text(c.encode_utf8(&mut [0; 4]));
        }
        _ => {
            if app.input.editor.handle_event(&Event::Key(key)).is_some() {
                app.input.edited();
            }
        }
    }
}

/// Tab on a line that starts with `/`: completes the command name as far as it is
/// unambiguous, or lists the candidates; after `/lesson ` and `/theme `, their names.
fn complete(app: &mut App) {
    let typed = app.input.value()[1..].to_owned();
    let (head, word, candidates, what) = match typed.split_once(' ') {
        None => {
            let names = command::completions(&typed).into_iter().map(str::to_owned);
            ("/".to_owned(), typed.as_str(), names.collect(), "commands")
        }
        Some(("lesson", word)) => {
            let names = app.lessons.lessons().map(|l| l.name.clone());
            let names: Vec<String> = names.chain(["off".to_owned()]).collect();
            ("/lesson ".to_owned(), word, names, "lessons")
        }
        Some(("theme", word)) => {
            let names = ThemeName::ALL.iter().map(|t| t.name().to_owned()).collect();
            ("/theme ".to_owned(), word, names, "themes")
        }
        Some(_) => return,
    };
    let candidates: Vec<String> = candidates
        .into_iter()
        .filter(|name| name.starts_with(word))
        .collect();
    let common = candidates.iter().cloned().reduce(|a, b| {
        a.chars()
            .zip(b.chars())
            .take_while(|(x, y)| x == y)
            .map(|(x, _)| x)
            .collect()
    });
    match (candidates.as_slice(), common) {
        ([], _) => app.show_error(format!("no {what} start with {head}{word}")),
        ([only], _) => app.input.set(&format!("{head}{only} ")),
        (_, Some(common)) if common.len() > word.len() => app.input.set(&format!("{head}{common}")),
        (all, _) => {
            let names: Vec<String> = all.iter().map(|name| format!("{head}{name}")).collect();
            app.show_notice(format!("{what}: {}", names.join(" ")));
        }
    }
}

/// A scroll request, in pages of the focused pane.
enum Page {
    Back,
    Forward,
    Oldest,
    Newest,
}

fn scroll_focused(app: &mut App, page: Page) {
    let rows = match app.focus {
        Focus::Client => app.viewport.client_rows,
        Focus::Server => app.viewport.server_rows,
    };
    let delta = match page {
        Page::Back => rows as isize,
        Page::Forward => -(rows as isize),
        Page::Oldest => isize::MAX,
        Page::Newest => isize::MIN,
    };
    scroll(app, app.focus, delta);
}

/// Scrolls `pane` by `delta` rows (positive: back in time), a page being what it showed.
pub(super) fn scroll(app: &mut App, pane: Focus, delta: isize) {
    let rows = match pane {
        Focus::Client => app.viewport.client_rows,
        Focus::Server => app.viewport.server_rows,
    };
    match pane {
        Focus::Client => {
            if let Some(client) = &mut app.client {
                client.rows.scroll_by(delta, rows);
            }
        }
        Focus::Server => {
            if let Some(server) = &mut app.server {
                server.rows.scroll_by(delta, rows);
            }
        }
    }
}
