//! Colours and text attributes, in one place so `NO_COLOR` is honoured everywhere.

use ratatui::style::{Color, Modifier, Style};

use crate::app::model::ConnState;

/// The styles the panes use; without colour, attributes alone carry the meaning.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    color: bool,
}

impl Theme {
    pub fn new(color: bool) -> Self {
        Self { color }
    }

    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    /// Timestamps and other secondary text.
    pub fn dim(self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    pub fn sent(self) -> Style {
        self.fg(Color::Cyan)
    }

    pub fn echoed(self) -> Style {
        self.fg(Color::Green)
    }

    pub fn rtt(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn warning(self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn notice(self) -> Style {
        self.fg(Color::Blue)
    }

    /// The border of the pane that scroll keys act on.
    pub fn focused_border(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn border(self) -> Style {
        self.dim().remove_modifier(Modifier::DIM)
    }

    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn status_bar(self) -> Style {
        if self.color {
            Style::new().bg(Color::Black).fg(Color::White)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    /// Colour of a connection state; the state is always written in words beside it.
    pub fn state(self, state: &ConnState) -> Style {
        let color = match state {
            ConnState::Connected => Color::Green,
            ConnState::Connecting | ConnState::HalfClosed => Color::Yellow,
            ConnState::Closed(_) => Color::Red,
        };
        self.fg(color).add_modifier(Modifier::BOLD)
    }

    pub fn sparkline(self) -> Style {
        self.fg(Color::Green)
    }
}
