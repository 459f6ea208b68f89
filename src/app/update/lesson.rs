//! Guided lessons: `/lesson`, the step keys, and the typing of each step's lines.
//!
//! A step's lines go through the same path as lines the instructor types ([`submit_line`]),
//! so a line that fails (`/udp` against a TCP-only server) shows its error like any other and
//! the lesson goes on.

use super::commands::submit_line;
use crate::app::command::LessonChoice;
use crate::app::model::lesson::{HOLD_BEFORE_ENTER, HOLD_BETWEEN_LINES};
use crate::app::model::{App, ConnState, LessonRun, Typist};
use crate::app::msg::Effect;

/// `/lesson`, `/lesson NAME`, `/lesson off`.
pub(super) fn choose(app: &mut App, choice: LessonChoice) {
    match choice {
        LessonChoice::List => {
            let names = app.lessons.names();
            app.show_notice(format!("lessons: {names} (type /lesson NAME)"));
        }
        LessonChoice::Off => match app.lesson.take() {
            Some(run) => {
                app.input.set("");
                app.show_notice(format!("lesson '{}' closed", run.lesson.title));
            }
            None => app.show_error("no lesson is running".into()),
        },
        LessonChoice::Start(name) => start(app, &name),
    }
}

/// Opens lesson `name` at its introduction; the first → types its first step.
pub fn start(app: &mut App, name: &str) {
    if app.client.is_none() || app.server.is_none() {
        app.show_error(
            "lessons need the client and the server side by side: run 'echotui lesson NAME'".into(),
        );
        return;
    }
    match app.lessons.find(name) {
        Some(lesson) => {
            app.lesson = Some(LessonRun::new(lesson));
            app.input.set("");
        }
        None => {
            let names = app.lessons.names();
            app.show_error(format!("no lesson called '{name}'; lessons: {names}"));
        }
    }
}

/// → or PgDn: the next step's narration, typing its lines the first time it is shown. While
/// lines are being typed, it hurries them instead (whole lines, no pauses).
pub(super) fn next(app: &mut App) {
    let Some(run) = &mut app.lesson else {
        return;
    };
    if let Some(typist) = &mut run.typist {
        typist.hurry = true;
        return;
    }
    if run.at_end() {
        return;
    }
    run.shown += 1;
    if run.shown > run.ran {
        run.ran = run.shown;
        let lines = run
            .step()
            .map(|step| step.lines.as_slice())
            .unwrap_or_default();
        run.typist = Typist::new(lines);
        if run.typist.is_some() {
            // The lesson types on a clean line.
            app.input.set("");
        }
    }
}

/// ← or PgUp: the previous step's narration (nothing is typed again).
pub(super) fn back(app: &mut App) {
    if let Some(run) = &mut app.lesson
        && run.typist.is_none()
    {
        run.shown = run.shown.saturating_sub(1);
    }
}

/// One typing tick: a character onto the message line, a pause, or Enter once a line is
/// typed and the client is not between connections (a line sent while the client reconnects
/// would be refused).
pub(super) fn type_tick(app: &mut App) -> Vec<Effect> {
    let connecting = app
        .client
        .as_ref()
        .is_some_and(|client| client.state == ConnState::Connecting);
    let Some(typist) = app.lesson.as_mut().and_then(|run| run.typist.as_mut()) else {
        return Vec::new();
    };
    if typist.hold > 0 && !typist.hurry {
        typist.hold -= 1;
        return Vec::new();
    }
    let Some(line) = typist.lines.front() else {
        return Vec::new();
    };
    let total = line.chars().count();
    if typist.typed < total {
        let count = if typist.hurry {
            total - typist.typed
        } else {
            1
        };
        let chunk: String = line.chars().skip(typist.typed).take(count).collect();
        typist.typed += count;
        if typist.typed == total {
            typist.hold = HOLD_BEFORE_ENTER;
        }
        app.input.type_text(&chunk);
        return Vec::new();
    }
    if connecting && !typist.hurry {
        return Vec::new();
    }
    typist.lines.pop_front();
    typist.typed = 0;
    typist.hold = HOLD_BETWEEN_LINES;
    if typist.lines.is_empty()
        && let Some(run) = &mut app.lesson
    {
        run.typist = None;
    }
    submit_line(app)
}

#[cfg(test)]
mod tests;
