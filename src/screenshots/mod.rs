//! The README's pictures: real screens, drawn by [`crate::ui::draw`] into a `TestBackend` as
//! the snapshot tests draw them, with their colours turned into SVG.
//!
//! `cargo run --example screenshots` writes `assets/screenshots/`; a test renders every
//! picture again and fails when a file differs, so the pictures cannot drift from the code.

pub mod scenes;
pub mod svg;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

use crate::app::App;
use crate::app::model::ThemeName;

/// One picture: a file name in `assets/screenshots/`, what it shows, its size in cells.
#[derive(Debug, Clone, Copy)]
pub struct Shot {
    pub file: &'static str,
    pub title: &'static str,
    pub width: u16,
    pub height: u16,
    pub scene: fn() -> App,
}

/// Every picture the README shows.
pub const SHOTS: &[Shot] = &[
    Shot {
        file: "side-by-side.svg",
        title: "echotui: the client and the server side by side; at /read 7, Hello, World! is two reads and one echo",
        width: 120,
        height: 26,
        scene: scenes::side_by_side,
    },
    Shot {
        file: "lesson.svg",
        title: "A lesson in progress in presenter mode: step 2 of TCP is a byte stream",
        width: 100,
        height: 30,
        scene: scenes::lesson_in_progress,
    },
    Shot {
        file: "roster.svg",
        title: "echotui serve with a classroom of clients, addresses masked, sorted by activity",
        width: 120,
        height: 36,
        scene: scenes::roster,
    },
    Shot {
        file: "latency-chart.svg",
        title: "The latency chart: RTT per echo over a 50 ms ± 10 ms link, with the p50 and p99 lines",
        width: 100,
        height: 32,
        scene: scenes::latency_chart,
    },
    Shot {
        file: "theme-dark.svg",
        title: "The dark theme",
        width: 80,
        height: 24,
        scene: || scenes::themed(ThemeName::Dark),
    },
    Shot {
        file: "theme-light.svg",
        title: "The light theme",
        width: 80,
        height: 24,
        scene: || scenes::themed(ThemeName::Light),
    },
    Shot {
        file: "theme-high-contrast.svg",
        title: "The high-contrast theme",
        width: 80,
        height: 24,
        scene: || scenes::themed(ThemeName::HighContrast),
    },
    Shot {
        file: "theme-colorblind.svg",
        title: "The colorblind theme (Okabe–Ito palette)",
        width: 80,
        height: 24,
        scene: || scenes::themed(ThemeName::Colorblind),
    },
];

/// The screen `app` shows on a `width`×`height` terminal, as the snapshot tests render it.
pub fn screen(app: &App, width: u16, height: u16) -> Buffer {
    let mut terminal = match Terminal::new(TestBackend::new(width, height)) {
        Ok(terminal) => terminal,
        // A TestBackend cannot fail to start.
        Err(never) => match never {},
    };
    // Drawing on a TestBackend cannot fail either.
    match terminal.draw(|frame| {
        crate::ui::draw(frame, app);
    }) {
        Ok(frame) => frame.buffer.clone(),
        Err(never) => match never {},
    }
}

impl Shot {
    /// The picture, as SVG.
    pub fn svg(&self) -> String {
        svg::render(
            &screen(&(self.scene)(), self.width, self.height),
            self.title,
        )
    }
}
