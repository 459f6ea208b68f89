//! A lesson in progress: which step's narration is shown, which steps have run, and the
//! lines still to be typed on the message line.
//!
//! The typing is state, advanced one character per [`crate::app::Msg::Typing`] tick, so the
//! class sees each command typed, and a test can step through a lesson without a clock.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::lesson::{Lesson, Step};

/// Ticks a fully typed line stays on the message line before it is entered, so the class
/// can read it (at the runtime's typing tick, about a third of a second).
pub const HOLD_BEFORE_ENTER: u8 = 8;
/// Ticks between one entered line and the next one starting.
pub const HOLD_BETWEEN_LINES: u8 = 4;

/// A lesson being taught.
#[derive(Debug, Clone)]
pub struct LessonRun {
    pub lesson: Arc<Lesson>,
    /// The narration shown: 0 is the introduction (what the class will learn), `n` is step
    /// `n` (1-based).
    pub shown: usize,
    /// Steps whose lines have been typed: going back shows a step's narration again without
    /// typing its lines twice.
    pub ran: usize,
    /// The lines being typed now, if any.
    pub typist: Option<Typist>,
}

/// Lines on their way onto the message line, one character per tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typist {
    pub lines: VecDeque<String>,
    /// Characters of the first line already on the message line.
    pub typed: usize,
    /// Ticks to wait before doing anything else.
    pub hold: u8,
    /// The instructor pressed → while typing: whole lines at once, no pauses.
    pub hurry: bool,
}

impl LessonRun {
    /// A lesson opened at its introduction.
    pub fn new(lesson: Arc<Lesson>) -> Self {
        Self {
            lesson,
            shown: 0,
            ran: 0,
            typist: None,
        }
    }

    /// The step whose narration is shown (`None` on the introduction).
    pub fn step(&self) -> Option<&Step> {
        self.shown
            .checked_sub(1)
            .and_then(|i| self.lesson.steps.get(i))
    }

    /// Whether the last step is shown.
    pub fn at_end(&self) -> bool {
        self.shown == self.lesson.steps.len()
    }

    /// Whether lines are being typed.
    pub fn typing(&self) -> bool {
        self.typist.is_some()
    }
}

impl Typist {
    /// Types `lines` in order, starting at once.
    pub fn new(lines: &[String]) -> Option<Self> {
        (!lines.is_empty()).then(|| Self {
            lines: lines.iter().cloned().collect(),
            typed: 0,
            hold: 0,
            hurry: false,
        })
    }
}
