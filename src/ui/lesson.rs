//! The narration bar of a lesson in progress: the step's narration and what to look for,
//! with `step N/M` and the keys that move through the lesson.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use super::{fit, pane_block, wrap};
use crate::app::model::LessonRun;

/// Border rows around the narration.
const BORDER: u16 = 2;
/// The fewest narration lines worth drawing: the narration and what to look for.
pub(super) const MIN_LINES: u16 = 2;

/// The narration and the "look for" line of what is shown, unwrapped.
fn texts(run: &LessonRun) -> (String, String) {
    match run.step() {
        Some(step) => (step.say.clone(), format!("Look for: {}", step.look)),
        None => (
            format!("What the class will learn: {}", run.lesson.learn),
            format!(
                "{} · press → or PgDn for step 1",
                crate::units::count(run.lesson.steps.len() as u64, "step", "steps")
            ),
        ),
    }
}

/// Rows the bar wants at `width` columns, at most `max`.
pub(super) fn height(run: &LessonRun, width: u16, max: u16) -> u16 {
    let inner = usize::from(width.saturating_sub(2));
    let (say, look) = texts(run);
    let lines = wrap(&say, inner).len() + wrap(&look, inner).len();
    (lines as u16 + BORDER).min(max)
}

pub(super) fn draw(frame: &mut Frame, area: Rect, run: &LessonRun, theme: Theme) {
    let total = run.lesson.steps.len();
    let where_ = match run.shown {
        0 => "introduction".to_owned(),
        n => format!("step {n}/{total}"),
    };
    let title = Line::from(vec![
        Span::raw(" Lesson: "),
        Span::raw(run.lesson.title.clone()),
        Span::raw(" · "),
        Span::styled(where_, theme.rtt()),
        Span::raw(" "),
    ]);
    let keys = if run.typing() {
        " typing… · → hurries "
    } else if run.at_end() {
        " last step · ← back · /lesson off closes "
    } else if run.shown == 0 {
        " → begins "
    } else {
        " → next · ← back "
    };
    let block =
        pane_block(title, true, theme).title_top(Line::styled(keys, theme.dim()).right_aligned());
    let inner = block.inner(area);
    let width = usize::from(inner.width);
    let (say, look) = texts(run);
    let (say, look) = (wrap(&say, width), wrap(&look, width));
    // Too little room: each part keeps its first lines, and a cut one ends with `…`.
    let room = usize::from(inner.height);
    let look_kept = look.len().min((room / 2).max(room.min(1)));
    let say_kept = say.len().min(room - look_kept);
    let look_kept = look.len().min(room - say_kept);
    let mut lines = kept(&say, say_kept, width, theme.text());
    lines.extend(kept(&look, look_kept, width, theme.notice()));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The first `count` of `lines`, the last one marked `…` when some were left out.
fn kept(lines: &[String], count: usize, width: usize, style: Style) -> Vec<Line<'static>> {
    let mut kept: Vec<Line> = lines[..count]
        .iter()
        .map(|line| Line::styled(line.clone(), style))
        .collect();
    if count < lines.len()
        && let Some(last) = kept.last_mut()
    {
        let text = format!("{} …", lines[count - 1]);
        *last = Line::styled(fit(&text, width), style);
    }
    kept
}
