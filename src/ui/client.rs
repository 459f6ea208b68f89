//! The client pane: what was sent, what came back, and each message's round-trip time.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::theme::Theme;
use super::{clock, log_block, pad, pad_left, pane_block, wrap};
use crate::app::App;
use crate::app::model::{ClientPane, ClientRow, ClientRowKind, EchoProgress, Payload};
use crate::units;

/// Below this inner width the time column is left out, to keep room for the message.
const TIME_COLUMN_MIN_WIDTH: usize = 56;
/// The RTT column's width in presenter mode: wide enough that RTTs line up from row to row,
/// easy to find from the back of the room.
const PRESENTER_TAIL_WIDTH: usize = 9;

/// How a row is laid out: message rows line up in columns, notices span the pane.
enum Shape<'a> {
    Columns(Cells<'a>),
    Spanning {
        marker: &'static str,
        text: &'a str,
        style: Style,
    },
}

/// One message row split into the columns the pane lines up.
struct Cells<'a> {
    arrow: Span<'a>,
    text: String,
    text_style: Style,
    size: String,
    tail: Span<'a>,
    /// How long the message waited in our own queue before reaching the socket, said after
    /// its RTT (which is timed from the socket).
    queued: Option<Duration>,
}

/// How a queued wait is said after an RTT: in words when the pane has the room, else as a
/// bare `+wait` (explained in the help) so the messages themselves stay readable.
#[derive(Clone, Copy)]
enum QueuedForm {
    Words,
    Bare,
}

impl Cells<'_> {
    /// The last column's text: the outcome, and any wait in our queue in `form`.
    fn tail_text(&self, form: QueuedForm) -> String {
        match (self.queued, form) {
            (None, _) => self.tail.content.to_string(),
            (Some(waited), QueuedForm::Words) => {
                format!("{} +{} queued", self.tail.content, units::duration(waited))
            }
            (Some(waited), QueuedForm::Bare) => {
                format!("{} +{}", self.tail.content, units::duration(waited))
            }
        }
    }
}

/// Draws the pane; returns how many rows it shows (a page, for scrolling).
pub(super) fn draw(
    frame: &mut Frame,
    area: Rect,
    client: &ClientPane,
    app: &App,
    focused: bool,
    theme: Theme,
) -> usize {
    let hex = app.hex;
    let title = Line::from(format!(" Client → {} {} ", client.target, client.transport));
    // The block's inner size does not depend on the scroll hint, so measure with any page.
    let inner = pane_block(title.clone(), focused, theme).inner(area);
    let width = inner.width as usize;
    let height = inner.height as usize;
    // Presenter mode leaves the times out and gives the RTT room.
    let presenter = app.view.presenter;
    let show_time = width >= TIME_COLUMN_MIN_WIDTH && !presenter;
    let time_width = if show_time { 13 } else { 0 };

    // Newest first, until the pane is full: a notice may take several lines.
    let mut shapes: Vec<(&ClientRow, Shape)> = Vec::new();
    let mut lines_used = 0;
    for row in client.rows.newest_in_view(app.viewport.client_rows.max(1)) {
        if lines_used >= height {
            break;
        }
        let shape = shape(row, hex, theme);
        lines_used += match &shape {
            Shape::Columns(_) => 1,
            Shape::Spanning { text, .. } => wrap(text, width.saturating_sub(time_width + 2)).len(),
        };
        shapes.push((row, shape));
    }
    shapes.reverse();
    let shown = shapes.len();

    let mut block = log_block(
        title,
        &client.rows,
        app.viewport.client_rows,
        focused,
        theme,
    );
    if let Some(impairments) = app.impairments.filter(|i| !i.is_none()) {
        let link = Line::styled(format!(" link: {impairments} "), theme.warning());
        block = block.title_bottom(link.right_aligned());
    }
    let columns = || {
        shapes.iter().filter_map(|(_, shape)| match shape {
            Shape::Columns(c) => Some(c),
            Shape::Spanning { .. } => None,
        })
    };
    let size_width = columns().map(|c| c.size.width()).max().unwrap_or(0);
    let tail_floor = if presenter { PRESENTER_TAIL_WIDTH } else { 0 };
    let tail_width_in = |form| {
        let widths = columns().map(|c| c.tail_text(form).width());
        widths.fold(tail_floor, usize::max)
    };
    // arrow(2) + text + " " + size + " " + tail
    let text_width_beside =
        |tail_width: usize| width.saturating_sub(time_width + 2 + 1 + size_width + 1 + tail_width);
    // The messages come first: a queued wait is said in words only if no message is cut by it.
    let widest_text = columns().map(|c| c.text.width()).max().unwrap_or(0);
    let queued_form = if text_width_beside(tail_width_in(QueuedForm::Words)) >= widest_text {
        QueuedForm::Words
    } else {
        QueuedForm::Bare
    };
    let tail_width = tail_width_in(queued_form);
    let text_width = text_width_beside(tail_width);

    let mut lines: Vec<Line> = Vec::with_capacity(lines_used);
    for (row, shape) in shapes {
        let time = || Span::styled(format!("{} ", clock(&row.at)), theme.dim());
        match shape {
            Shape::Columns(c) => {
                let mut spans = Vec::with_capacity(6);
                if show_time {
                    spans.push(time());
                }
                let tail = Span::styled(
                    pad_left(&c.tail_text(queued_form), tail_width),
                    c.tail.style,
                );
                spans.push(c.arrow);
                spans.push(Span::styled(pad(&c.text, text_width), c.text_style));
                spans.push(Span::raw(format!(" {} ", pad_left(&c.size, size_width))));
                spans.push(tail);
                lines.push(Line::from(spans));
            }
            Shape::Spanning {
                marker,
                text,
                style,
            } => {
                let indent = " ".repeat(time_width + 2);
                for (i, part) in wrap(text, width.saturating_sub(time_width + 2))
                    .into_iter()
                    .enumerate()
                {
                    let mut spans = Vec::with_capacity(3);
                    match (i, show_time) {
                        (0, true) => spans.push(time()),
                        (0, false) => {}
                        _ => spans.push(Span::raw(indent.clone())),
                    }
                    if i == 0 {
                        spans.push(Span::styled(marker, style));
                    }
                    spans.push(Span::styled(part, style));
                    lines.push(Line::from(spans));
                }
            }
        }
    }
    // A wrapped notice at the top that does not fit shows its last lines.
    let skip = lines.len().saturating_sub(height);
    let lines: Vec<Line> = lines.into_iter().skip(skip).collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
    shown
}

fn shape(row: &ClientRow, hex: bool, theme: Theme) -> Shape<'_> {
    let bytes = |len: usize| units::bytes(len as u64);
    let show = |payload: &Payload| super::payload_text(payload, hex);
    Shape::Columns(match &row.kind {
        ClientRowKind::Sent {
            payload, outcome, ..
        } => Cells {
            arrow: Span::styled("→ ", theme.sent()),
            text: show(payload),
            text_style: theme.text(),
            size: bytes(payload.len),
            tail: match outcome {
                Some(EchoProgress::NotSent) => Span::styled("not sent", theme.error()),
                Some(EchoProgress::Abandoned) => Span::styled("abandoned", theme.warning()),
                _ => Span::raw(""),
            },
            queued: None,
        },
        ClientRowKind::Echo {
            payload,
            progress,
            queued,
            ..
        } => match progress {
            EchoProgress::Partial { received } => Cells {
                arrow: Span::styled("← ", theme.echoed()),
                text: show(payload),
                text_style: theme.dim(),
                size: format!("{received}/{} B", payload.len),
                tail: Span::styled("…", theme.dim()),
                queued: None,
            },
            EchoProgress::Echoed { rtt } => Cells {
                arrow: Span::styled("← ", theme.echoed()),
                text: show(payload),
                text_style: theme.text(),
                size: bytes(payload.len),
                tail: Span::styled(units::duration(*rtt), theme.rtt()),
                queued: *queued,
            },
            EchoProgress::Abandoned | EchoProgress::NotSent => Cells {
                arrow: Span::styled("← ", theme.warning()),
                text: show(payload),
                text_style: theme.dim(),
                size: bytes(payload.len),
                tail: Span::styled(
                    if *progress == EchoProgress::NotSent {
                        "not sent"
                    } else {
                        "abandoned"
                    },
                    theme.warning(),
                ),
                queued: None,
            },
            EchoProgress::Lost => Cells {
                arrow: Span::styled("← ", theme.error()),
                text: show(payload),
                text_style: theme.dim(),
                size: bytes(payload.len),
                tail: Span::styled("lost", theme.error()),
                queued: None,
            },
            EchoProgress::Mismatch { echoed } => Cells {
                arrow: Span::styled("← ", theme.error()),
                text: show(echoed),
                text_style: theme.error(),
                size: bytes(echoed.len),
                tail: Span::styled("mismatch", theme.error()),
                queued: None,
            },
        },
        ClientRowKind::Duplicate { payload, .. } => Cells {
            arrow: Span::styled("← ", theme.warning()),
            text: show(payload),
            text_style: theme.warning(),
            size: bytes(payload.len),
            tail: Span::styled("duplicate", theme.warning()),
            queued: None,
        },
        ClientRowKind::Unsolicited { payload } => Cells {
            arrow: Span::styled("← ", theme.warning()),
            text: show(payload),
            text_style: theme.warning(),
            size: bytes(payload.len),
            tail: Span::styled("unsolicited", theme.warning()),
            queued: None,
        },
        ClientRowKind::Error(text) => {
            return Shape::Spanning {
                marker: "! ",
                text,
                style: theme.error(),
            };
        }
        ClientRowKind::Notice(text) => {
            return Shape::Spanning {
                marker: "· ",
                text,
                style: theme.notice(),
            };
        }
    })
}
