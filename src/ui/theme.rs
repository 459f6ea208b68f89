//! Colours and text attributes, in one place so `NO_COLOR` is honoured everywhere and a theme
//! is one table.
//!
//! Each theme is a `Palette` of meanings (sent, echoed, warning…), never of raw colours at
//! the call sites. Colours are from the 256-colour table, which every terminal a classroom
//! meets can show (true colour is not everywhere). Whatever the theme, state is also written
//! in words: colour only repeats it.

use ratatui::style::{Color, Modifier, Style};

use crate::app::model::{ConnState, ThemeName, ViewSettings};

/// What each meaning looks like in one theme.
#[derive(Debug, Clone, Copy)]
struct Palette {
    /// Background and text colour painted under everything, for themes that cannot rely on
    /// the terminal's own (light, high contrast); `None` keeps the terminal's.
    base: Option<(Color, Color)>,
    dim: Color,
    sent: Color,
    echoed: Color,
    rtt: Color,
    warning: Color,
    error: Color,
    notice: Color,
    focus: Color,
    border: Color,
    /// The status bar: background, text.
    status: (Color, Color),
    /// Connection states: live, in between, ended.
    live: Color,
    between: Color,
    ended: Color,
    /// Every text span bold, for a washed-out projector.
    bold: bool,
}

const DARK: Palette = Palette {
    base: None,
    dim: Color::DarkGray,
    sent: Color::Cyan,
    echoed: Color::Green,
    rtt: Color::Yellow,
    warning: Color::Yellow,
    error: Color::Red,
    notice: Color::Blue,
    focus: Color::Cyan,
    border: Color::DarkGray,
    status: (Color::Black, Color::White),
    live: Color::Green,
    between: Color::Yellow,
    ended: Color::Red,
    bold: false,
};

/// Dark text on white: no yellow (unreadable on white), darker shades of each meaning.
const LIGHT: Palette = Palette {
    base: Some((Color::Indexed(231), Color::Indexed(16))),
    dim: Color::Indexed(243),
    sent: Color::Indexed(25),
    echoed: Color::Indexed(28),
    rtt: Color::Indexed(130),
    warning: Color::Indexed(130),
    error: Color::Indexed(160),
    notice: Color::Indexed(90),
    focus: Color::Indexed(25),
    border: Color::Indexed(247),
    status: (Color::Indexed(252), Color::Indexed(16)),
    live: Color::Indexed(28),
    between: Color::Indexed(130),
    ended: Color::Indexed(160),
    bold: false,
};

/// White and the brightest colours on black, everything bold: what survives a projector.
const HIGH_CONTRAST: Palette = Palette {
    base: Some((Color::Indexed(16), Color::Indexed(231))),
    dim: Color::Indexed(252),
    sent: Color::Indexed(51),
    echoed: Color::Indexed(46),
    rtt: Color::Indexed(226),
    warning: Color::Indexed(226),
    error: Color::Indexed(203),
    notice: Color::Indexed(159),
    focus: Color::Indexed(226),
    border: Color::Indexed(231),
    // Dark grey, not white: the hints' light grey and the state colours must read on it.
    status: (Color::Indexed(238), Color::Indexed(231)),
    live: Color::Indexed(46),
    between: Color::Indexed(226),
    ended: Color::Indexed(203),
    bold: true,
};

/// The Okabe–Ito palette (nearest 256-colour shades): sky blue, bluish green, yellow, orange,
/// vermillion, reddish purple. A live connection is blue and an ended one vermillion, so
/// no two states differ by red against green alone.
const COLORBLIND: Palette = Palette {
    base: None,
    dim: Color::Indexed(245),
    sent: Color::Indexed(74),
    echoed: Color::Indexed(36),
    rtt: Color::Indexed(221),
    warning: Color::Indexed(214),
    error: Color::Indexed(166),
    notice: Color::Indexed(175),
    focus: Color::Indexed(74),
    border: Color::Indexed(243),
    status: (Color::Indexed(236), Color::Indexed(255)),
    live: Color::Indexed(74),
    between: Color::Indexed(214),
    ended: Color::Indexed(166),
    bold: false,
};

/// The styles the panes use; without colour, attributes alone carry the meaning.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    palette: &'static Palette,
    color: bool,
    /// Presenter mode: everything that carries meaning is bold.
    emphasis: bool,
}

impl Theme {
    /// The theme `view` asks for; `color` is off when `NO_COLOR` is set, whatever the theme.
    pub fn new(view: &ViewSettings, color: bool) -> Self {
        let palette = match view.theme() {
            ThemeName::Dark => &DARK,
            ThemeName::Light => &LIGHT,
            ThemeName::HighContrast => &HIGH_CONTRAST,
            ThemeName::Colorblind => &COLORBLIND,
        };
        Self {
            palette,
            color,
            emphasis: view.presenter || (color && palette.bold),
        }
    }

    fn fg(self, color: Color) -> Style {
        let style = if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        };
        if self.emphasis {
            style.add_modifier(Modifier::BOLD)
        } else {
            style
        }
    }

    /// Painted under the whole screen: the theme's background and text colour, if it has one.
    pub fn base(self) -> Style {
        match self.palette.base {
            Some((bg, fg)) if self.color => Style::new().bg(bg).fg(fg),
            _ => Style::new(),
        }
    }

    /// Plain text that still carries meaning (narration, numbers): bold in presenter mode.
    pub fn text(self) -> Style {
        if self.emphasis {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        }
    }

    /// Timestamps and other secondary text.
    pub fn dim(self) -> Style {
        if self.color {
            Style::new().fg(self.palette.dim)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    /// A message on its way out: the `→` rows.
    pub fn sent(self) -> Style {
        self.fg(self.palette.sent)
    }

    /// What came back: the `←` of an echo.
    pub fn echoed(self) -> Style {
        self.fg(self.palette.echoed)
    }

    /// Round-trip times, bold: the number the client pane is about.
    pub fn rtt(self) -> Style {
        self.fg(self.palette.rtt).add_modifier(Modifier::BOLD)
    }

    /// Worth a look but not a failure: abandoned, duplicate, unsolicited, bytes in flight.
    pub fn warning(self) -> Style {
        self.fg(self.palette.warning)
    }

    /// A failure, bold: lost, mismatch, not sent, an error row.
    pub fn error(self) -> Style {
        self.fg(self.palette.error).add_modifier(Modifier::BOLD)
    }

    /// Connection news: the `·` rows.
    pub fn notice(self) -> Style {
        self.fg(self.palette.notice)
    }

    /// The border of the pane that scroll keys act on.
    pub fn focused_border(self) -> Style {
        self.fg(self.palette.focus).add_modifier(Modifier::BOLD)
    }

    /// The border of a pane without the focus (faint, where colour allows).
    pub fn border(self) -> Style {
        if self.color {
            Style::new().fg(self.palette.border)
        } else {
            Style::new()
        }
    }

    /// Pane titles: bold, in the theme's text colour where it has one (a title must not
    /// take the faint colour of the border it sits on).
    pub fn title(self) -> Style {
        let style = Style::new().add_modifier(Modifier::BOLD);
        match self.palette.base {
            Some((_, fg)) if self.color => style.fg(fg),
            _ => style,
        }
    }

    /// The status bar: its own colours, or reversed video without colour.
    pub fn status_bar(self) -> Style {
        if self.color {
            let (bg, fg) = self.palette.status;
            Style::new().bg(bg).fg(fg)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    /// Colour of a connection state; the state is always written in words beside it.
    pub fn state(self, state: &ConnState) -> Style {
        let color = match state {
            ConnState::Connected => self.palette.live,
            ConnState::Connecting | ConnState::HalfClosed => self.palette.between,
            ConnState::Closed(_) => self.palette.ended,
        };
        self.fg(color).add_modifier(Modifier::BOLD)
    }

    /// The latency sparkline's bars: the colour of an echo.
    pub fn sparkline(self) -> Style {
        self.fg(self.palette.echoed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_means_no_colour_in_every_theme() {
        for theme in ThemeName::ALL {
            let view = ViewSettings {
                theme: Some(theme),
                ..ViewSettings::default()
            };
            let plain = Theme::new(&view, false);
            for style in [
                plain.base(),
                plain.sent(),
                plain.error(),
                plain.status_bar(),
            ] {
                assert_eq!((style.fg, style.bg), (None, None), "{theme}");
            }
        }
    }

    #[test]
    fn presenter_mode_makes_meaningful_text_bold() {
        let view = ViewSettings {
            presenter: true,
            theme: Some(ThemeName::Dark),
            ..ViewSettings::default()
        };
        let theme = Theme::new(&view, true);
        assert!(theme.sent().add_modifier.contains(Modifier::BOLD));
        assert!(theme.text().add_modifier.contains(Modifier::BOLD));
    }
}
