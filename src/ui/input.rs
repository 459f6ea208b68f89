//! The message line, with the cursor where the user types.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::pane_block;
use super::theme::Theme;
use crate::app::App;

/// Border plus one line.
pub(super) const HEIGHT: u16 = 3;

const PROMPT: &str = "> ";

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let title = Line::from(" Message (/help for commands) ");
    let block = pane_block(title, false, theme);
    let inner = block.inner(area);
    let editor = &app.input.editor;
    let width = (inner.width as usize).saturating_sub(PROMPT.len() + 1);
    let scroll = editor.visual_scroll(width);
    let visible: String = editor.value().chars().skip(scroll).collect();
    let line = Line::from(vec![Span::styled(PROMPT, theme.dim()), Span::raw(visible)]);
    frame.render_widget(Paragraph::new(line).block(block), area);
    if !app.help_open {
        let cursor = editor.visual_cursor().saturating_sub(scroll) + PROMPT.len();
        frame.set_cursor_position((inner.x + cursor as u16, inner.y));
    }
}
