//! The message line: a line editor (`tui-input`), Up/Down history, and the rule that keeps
//! it safe to draw: nothing invisible or a terminal would act on ever enters the line, only
//! its escape (`\n`, `\u{200D}`), which is also what [`crate::text::unescape`] sends.

use std::collections::VecDeque;

use tui_input::{Input, InputRequest};

use crate::text;

/// Input lines remembered for Up/Down.
pub const MAX_HISTORY: usize = 200;

/// The message line: a line editor plus Up/Down history.
#[derive(Debug, Default)]
pub struct InputLine {
    pub editor: Input,
    history: VecDeque<String>,
    /// Position while browsing history with Up/Down; `None` = editing a new line.
    browsing: Option<usize>,
    /// The half-typed line Up left behind, given back by Down past the newest entry.
    draft: String,
}

impl InputLine {
    /// What the line holds, as shown (escapes not yet turned into bytes).
    pub fn value(&self) -> &str {
        self.editor.value()
    }

    /// Inserts characters the user typed: a backslash stays one (it starts an escape), but
    /// anything invisible is inserted as its escape.
    pub fn type_text(&mut self, text: &str) {
        let mut visible = String::with_capacity(text.len());
        for c in text.chars() {
            text::push_visible(&mut visible, c);
        }
        self.insert(&visible);
    }

    /// Inserts pasted text as one message: newlines, tabs and every other control become
    /// escapes (so a paste never sends line by line), and a backslash is doubled, so the
    /// message sent is exactly what was pasted.
    pub fn paste(&mut self, text: &str) {
        self.insert(&text::sanitize(text.as_bytes()));
    }

    fn insert(&mut self, visible: &str) {
        for c in visible.chars() {
            self.editor.handle(InputRequest::InsertChar(c));
        }
        self.browsing = None;
    }

    /// An edit made by the line editor itself (cursor moves, deletions).
    pub fn edited(&mut self) {
        self.browsing = None;
    }

    /// Replaces the line, cursor at the end (completion).
    pub fn set(&mut self, text: &str) {
        self.editor = Input::new(text.to_owned());
        self.browsing = None;
    }

    /// Takes the line for sending and remembers it; `None` when it is empty.
    pub fn take(&mut self) -> Option<String> {
        let line = self.editor.value().to_owned();
        if line.is_empty() {
            return None;
        }
        self.editor.reset();
        self.browsing = None;
        self.draft.clear();
        if self.history.back() != Some(&line) {
            if self.history.len() == MAX_HISTORY {
                self.history.pop_front();
            }
            self.history.push_back(line.clone());
        }
        Some(line)
    }

    /// Up (`older` true) goes back in history, Down forward, past the newest entry to the
    /// line that was being typed when browsing began.
    pub fn browse(&mut self, older: bool) {
        if self.history.is_empty() {
            return;
        }
        let newest = self.history.len() - 1;
        let next = match (self.browsing, older) {
            (None, true) => {
                self.draft = self.editor.value().to_owned();
                Some(newest)
            }
            (None, false) => return,
            (Some(i), true) => Some(i.saturating_sub(1)),
            (Some(i), false) if i < newest => Some(i + 1),
            (Some(_), false) => None,
        };
        let text = match next {
            Some(i) => self.history[i].clone(),
            None => std::mem::take(&mut self.draft),
        };
        self.editor = Input::new(text);
        self.browsing = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> InputLine {
        let mut input = InputLine::default();
        input.type_text(text);
        input
    }

    #[test]
    fn a_paste_is_one_line_with_its_controls_escaped() {
        let mut input = InputLine::default();
        input.paste("one\ntwo\tthree \\ \u{200D}\u{2028}\u{180D}");
        assert_eq!(
            input.value(),
            "one\\ntwo\\tthree \\\\ \\u{200D}\\u{2028}\\u{180D}"
        );
        let sent = text::unescape(input.value()).unwrap();
        assert_eq!(
            sent,
            "one\ntwo\tthree \\ \u{200D}\u{2028}\u{180D}".as_bytes()
        );
    }

    #[test]
    fn typed_invisible_characters_become_escapes_but_a_backslash_stays() {
        let input = line("a\u{202E}b\\n");
        assert_eq!(input.value(), "a\\u{202E}b\\n");
        assert!(input.value().chars().all(|c| !c.is_control()));
    }

    #[test]
    fn history_keeps_a_half_typed_line_as_the_newest_entry() {
        let mut input = line("first");
        input.take();
        input.type_text("second");
        input.take();
        input.type_text("half typ");
        input.browse(true);
        assert_eq!(input.value(), "second");
        input.browse(true);
        assert_eq!(input.value(), "first");
        input.browse(true);
        assert_eq!(input.value(), "first", "the oldest entry stays");
        input.browse(false);
        input.browse(false);
        assert_eq!(input.value(), "half typ");
        input.browse(false);
        assert_eq!(input.value(), "half typ");
    }

    #[test]
    fn empty_lines_are_not_taken_and_repeats_are_remembered_once() {
        let mut input = InputLine::default();
        assert_eq!(input.take(), None);
        input.type_text("x");
        input.take();
        input.type_text("x");
        input.take();
        assert_eq!(input.history.len(), 1);
    }
}
