//! A rendered screen (a ratatui `Buffer`, as the snapshot tests draw it) as an SVG picture:
//! one background rectangle per run of coloured cells, one `<text>` per run of cells with the
//! same style, stretched to exactly its columns so the grid holds in any monospace font.

use std::fmt::Write;

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

/// One cell's size in pixels, and the font size that fills it.
const CELL_WIDTH: f64 = 9.0;
const CELL_HEIGHT: f64 = 18.0;
const FONT_SIZE: f64 = 15.0;
/// Where text sits in its cell (the baseline, from the cell's top).
const BASELINE: f64 = 13.5;

/// The terminal the picture pretends to be: its own background and text colour (what
/// `Color::Reset` means).
const TERMINAL_BACKGROUND: &str = "#1c1c1c";
const TERMINAL_FOREGROUND: &str = "#d0d0d0";

/// The 16 ANSI colours as a modern dark terminal shows them.
const ANSI: [&str; 16] = [
    "#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
    "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
];

/// `color` as `#rrggbb`; `None` for the terminal's own (`Reset`).
fn hex(color: Color) -> Option<String> {
    let index = match color {
        Color::Reset => return None,
        Color::Rgb(r, g, b) => return Some(format!("#{r:02x}{g:02x}{b:02x}")),
        Color::Indexed(i) => i,
        Color::Black => 0,
        Color::Red => 1,
        Color::Green => 2,
        Color::Yellow => 3,
        Color::Blue => 4,
        Color::Magenta => 5,
        Color::Cyan => 6,
        Color::Gray => 7,
        Color::DarkGray => 8,
        Color::LightRed => 9,
        Color::LightGreen => 10,
        Color::LightYellow => 11,
        Color::LightBlue => 12,
        Color::LightMagenta => 13,
        Color::LightCyan => 14,
        Color::White => 15,
    };
    Some(match index {
        0..16 => ANSI[usize::from(index)].to_owned(),
        // The 6×6×6 colour cube, then 24 greys, as xterm defines them.
        16..232 => {
            let level = |n: u8| if n == 0 { 0 } else { 55 + 40 * n };
            let i = index - 16;
            let (r, g, b) = (level(i / 36), level(i / 6 % 6), level(i % 6));
            format!("#{r:02x}{g:02x}{b:02x}")
        }
        232.. => {
            let grey = 8 + 10 * (index - 232);
            format!("#{grey:02x}{grey:02x}{grey:02x}")
        }
    })
}

/// How one cell looks, resolved to colours.
#[derive(Debug, Clone, PartialEq)]
struct Look {
    fg: String,
    bg: Option<String>,
    bold: bool,
    dim: bool,
    italic: bool,
    underline: bool,
}

fn look(cell: &ratatui::buffer::Cell) -> Look {
    let modifier = cell.modifier;
    let mut fg = hex(cell.fg);
    let mut bg = hex(cell.bg);
    if modifier.contains(Modifier::REVERSED) {
        std::mem::swap(&mut fg, &mut bg);
        fg = fg.or_else(|| Some(TERMINAL_BACKGROUND.to_owned()));
        bg = bg.or_else(|| Some(TERMINAL_FOREGROUND.to_owned()));
    }
    Look {
        fg: fg.unwrap_or_else(|| TERMINAL_FOREGROUND.to_owned()),
        bg,
        bold: modifier.contains(Modifier::BOLD),
        dim: modifier.contains(Modifier::DIM),
        italic: modifier.contains(Modifier::ITALIC),
        underline: modifier.contains(Modifier::UNDERLINED),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The screen in `buffer` as an SVG document, `title` for its accessible name.
pub fn render(buffer: &Buffer, title: &str) -> String {
    let area = buffer.area;
    let (width, height) = (
        f64::from(area.width) * CELL_WIDTH,
        f64::from(area.height) * CELL_HEIGHT,
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{}\">",
        escape(title)
    );
    let _ = writeln!(out, "<title>{}</title>", escape(title));
    let _ = writeln!(
        out,
        "<rect width=\"100%\" height=\"100%\" fill=\"{TERMINAL_BACKGROUND}\"/>"
    );
    let _ = writeln!(
        out,
        "<g font-family=\"'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace\" \
         font-size=\"{FONT_SIZE}\" xml:space=\"preserve\">"
    );
    for y in 0..area.height {
        let cells: Vec<(u16, Look, &str)> = (0..area.width)
            .filter_map(|x| {
                let cell = buffer.cell((area.x + x, area.y + y))?;
                Some((x, look(cell), cell.symbol()))
            })
            .collect();
        let top = f64::from(y) * CELL_HEIGHT;
        // Backgrounds first, one rectangle per run of the same colour.
        for run in runs(&cells, |a, b| a.1.bg == b.1.bg) {
            let (x, look, _) = &cells[run.start];
            if let Some(bg) = &look.bg {
                let _ = writeln!(
                    out,
                    "<rect x=\"{}\" y=\"{top}\" width=\"{}\" height=\"{CELL_HEIGHT}\" fill=\"{bg}\"/>",
                    f64::from(*x) * CELL_WIDTH,
                    run.len() as f64 * CELL_WIDTH
                );
            }
        }
        for run in runs(&cells, |a, b| a.1 == b.1) {
            let text: String = cells[run.clone()].iter().map(|(_, _, s)| *s).collect();
            if text.trim().is_empty() {
                continue;
            }
            let (x, look, _) = &cells[run.start];
            let mut attributes = format!("fill=\"{}\"", look.fg);
            if look.bold {
                attributes += " font-weight=\"bold\"";
            }
            if look.dim {
                attributes += " fill-opacity=\"0.6\"";
            }
            if look.italic {
                attributes += " font-style=\"italic\"";
            }
            if look.underline {
                attributes += " text-decoration=\"underline\"";
            }
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" textLength=\"{}\" lengthAdjust=\"spacingAndGlyphs\" {attributes}>{}</text>",
                f64::from(*x) * CELL_WIDTH,
                top + BASELINE,
                run.len() as f64 * CELL_WIDTH,
                escape(&text)
            );
        }
    }
    out += "</g>\n</svg>\n";
    out
}

/// Index ranges of consecutive cells that `same` says belong together.
fn runs<T>(cells: &[T], same: impl Fn(&T, &T) -> bool) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=cells.len() {
        if i == cells.len() || !same(&cells[start], &cells[i]) {
            if i > start {
                runs.push(start..i);
            }
            start = i;
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    #[test]
    fn colours_follow_xterm() {
        assert_eq!(hex(Color::Indexed(16)).unwrap(), "#000000");
        assert_eq!(hex(Color::Indexed(231)).unwrap(), "#ffffff");
        assert_eq!(hex(Color::Indexed(74)).unwrap(), "#5fafd7");
        assert_eq!(hex(Color::Indexed(232)).unwrap(), "#080808");
        assert_eq!(hex(Color::Reset), None);
    }

    #[test]
    fn runs_of_one_style_become_one_text_and_markup_is_escaped() {
        let mut buffer = Buffer::empty(Rect::new(0, 0, 6, 1));
        buffer.set_string(0, 0, "a<b", Style::new().fg(Color::Red));
        buffer.set_string(3, 0, "&", Style::new().bg(Color::Blue));
        let svg = render(&buffer, "t");
        assert!(svg.contains(">a&lt;b</text>"), "{svg}");
        assert!(svg.contains("fill=\"#cd3131\""), "{svg}");
        assert!(svg.contains("<rect x=\"27\" y=\"0\" width=\"9\""), "{svg}");
        assert!(svg.contains(">&amp;</text>"), "{svg}");
    }
}
