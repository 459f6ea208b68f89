//! The client pane: what was sent, what came back, and each message's round-trip time.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::theme::Theme;
use super::{clock, fit, log_block, pad, pad_left, visible};
use crate::app::App;
use crate::app::model::{ClientPane, ClientRow, ClientRowKind, EchoProgress, Payload};
use crate::units;

/// Below this inner width the time column is left out, to keep room for the message.
const TIME_COLUMN_MIN_WIDTH: usize = 56;

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
}

pub(super) fn draw(
    frame: &mut Frame,
    area: Rect,
    client: &ClientPane,
    app: &App,
    focused: bool,
    theme: Theme,
) {
    let hex = app.hex;
    let title = Line::from(format!(" Client → {} {} ", client.target, client.transport));
    let mut block = log_block(title, &client.rows, focused, theme);
    if let Some(impairments) = app.impairments.filter(|i| !i.is_none()) {
        let link = Line::styled(format!(" link: {impairments} "), theme.warning());
        block = block.title_bottom(link.right_aligned());
    }
    let inner = block.inner(area);
    let width = inner.width as usize;
    let rows: Vec<&ClientRow> = visible(&client.rows, inner.height as usize).collect();
    let shapes: Vec<(&ClientRow, Shape)> = rows
        .iter()
        .map(|row| (*row, shape(row, hex, theme)))
        .collect();
    let columns = || {
        shapes.iter().filter_map(|(_, shape)| match shape {
            Shape::Columns(c) => Some(c),
            Shape::Spanning { .. } => None,
        })
    };
    let size_width = columns().map(|c| c.size.width()).max().unwrap_or(0);
    let tail_width = columns().map(|c| c.tail.width()).max().unwrap_or(0);
    let show_time = width >= TIME_COLUMN_MIN_WIDTH;
    let time_width = if show_time { 13 } else { 0 };

    let lines: Vec<Line> = shapes
        .into_iter()
        .map(|(row, shape)| {
            let mut spans = Vec::with_capacity(6);
            if show_time {
                spans.push(Span::styled(format!("{} ", clock(&row.at)), theme.dim()));
            }
            match shape {
                Shape::Columns(c) => {
                    // arrow(2) + text + " " + size + " " + tail
                    let text_width =
                        width.saturating_sub(time_width + 2 + 1 + size_width + 1 + tail_width);
                    spans.push(c.arrow);
                    spans.push(Span::styled(pad(&c.text, text_width), c.text_style));
                    spans.push(Span::raw(format!(" {} ", pad_left(&c.size, size_width))));
                    let tail_style = c.tail.style;
                    spans.push(Span::styled(
                        pad_left(&c.tail.content, tail_width),
                        tail_style,
                    ));
                }
                Shape::Spanning {
                    marker,
                    text,
                    style,
                } => {
                    spans.push(Span::styled(marker, style));
                    spans.push(Span::styled(
                        fit(text, width.saturating_sub(time_width + 2)),
                        style,
                    ));
                }
            }
            Line::from(spans)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn shape(row: &ClientRow, hex: bool, theme: Theme) -> Shape<'_> {
    let bytes = |len: usize| units::bytes(len as u64);
    let show = |payload: &Payload| super::payload_text(payload, hex);
    Shape::Columns(match &row.kind {
        ClientRowKind::Sent { payload, .. } => Cells {
            arrow: Span::styled("→ ", theme.sent()),
            text: show(payload),
            text_style: Style::new(),
            size: bytes(payload.len),
            tail: Span::raw(""),
        },
        ClientRowKind::Echo {
            payload, progress, ..
        } => match progress {
            EchoProgress::Partial { received } => Cells {
                arrow: Span::styled("← ", theme.echoed()),
                text: show(payload),
                text_style: theme.dim(),
                size: format!("{received}/{} B", payload.len),
                tail: Span::styled("…", theme.dim()),
            },
            EchoProgress::Echoed { rtt } => Cells {
                arrow: Span::styled("← ", theme.echoed()),
                text: show(payload),
                text_style: Style::new(),
                size: bytes(payload.len),
                tail: Span::styled(units::duration(*rtt), theme.rtt()),
            },
            EchoProgress::Lost => Cells {
                arrow: Span::styled("← ", theme.error()),
                text: show(payload),
                text_style: theme.dim(),
                size: bytes(payload.len),
                tail: Span::styled("lost", theme.error()),
            },
            EchoProgress::Mismatch { echoed } => Cells {
                arrow: Span::styled("← ", theme.error()),
                text: show(echoed),
                text_style: theme.error(),
                size: bytes(echoed.len),
                tail: Span::styled("mismatch", theme.error()),
            },
        },
        ClientRowKind::Duplicate { payload, .. } => Cells {
            arrow: Span::styled("← ", theme.warning()),
            text: show(payload),
            text_style: theme.warning(),
            size: bytes(payload.len),
            tail: Span::styled("duplicate", theme.warning()),
        },
        ClientRowKind::Unsolicited { payload } => Cells {
            arrow: Span::styled("← ", theme.warning()),
            text: show(payload),
            text_style: theme.warning(),
            size: bytes(payload.len),
            tail: Span::styled("unsolicited", theme.warning()),
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
