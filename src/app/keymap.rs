//! The key table. One table feeds the key handling, the help overlay and the footer hints,
//! so what the screen says is always what the keys do.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Something a key does (typing into the input line aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Send,
    /// Older input line, or the client above in the server's roster when it has focus.
    Up,
    /// Newer input line, or the client below in the roster.
    Down,
    FocusNext,
    FocusPrev,
    PageUp,
    PageDown,
    ScrollOldest,
    FollowNewest,
    Help,
    /// Sparkline → chart → histogram → socket in the latency pane.
    NextLatencyView,
    /// Close the help, or stop showing one client's reads.
    Dismiss,
    Quit,
}

/// One line of the key table.
#[derive(Debug)]
pub struct Binding {
    pub keys: &'static [(KeyCode, KeyModifiers)],
    /// How the keys are written in the help.
    pub label: &'static str,
    pub action: Action,
    pub help: &'static str,
    /// Shown in the status bar's hints when `Some`.
    pub footer: Option<Footer>,
}

/// A key hint for the status bar.
#[derive(Debug, Clone, Copy)]
pub struct Footer {
    pub text: &'static str,
    /// Kept even on a narrow terminal: how to get help and how to leave.
    pub essential: bool,
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;
const SHIFT: KeyModifiers = KeyModifiers::SHIFT;

/// Every key binding, in the order the help shows them.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[(KeyCode::Enter, NONE)],
        label: "Enter",
        action: Action::Send,
        help: "send / run command",
        footer: Some(Footer {
            text: "Enter send",
            essential: false,
        }),
    },
    Binding {
        keys: &[(KeyCode::Up, NONE)],
        label: "Up",
        action: Action::Up,
        help: "history; client ↑",
        footer: None,
    },
    Binding {
        keys: &[(KeyCode::Down, NONE)],
        label: "Down",
        action: Action::Down,
        help: "history; client ↓",
        footer: None,
    },
    Binding {
        keys: &[(KeyCode::Tab, NONE)],
        label: "Tab",
        action: Action::FocusNext,
        help: "focus next pane",
        footer: Some(Footer {
            text: "Tab focus",
            essential: false,
        }),
    },
    Binding {
        keys: &[(KeyCode::BackTab, SHIFT), (KeyCode::BackTab, NONE)],
        label: "Shift-Tab",
        action: Action::FocusPrev,
        help: "focus previous pane",
        footer: None,
    },
    Binding {
        keys: &[(KeyCode::PageUp, NONE)],
        label: "PgUp",
        action: Action::PageUp,
        help: "page back",
        footer: None,
    },
    Binding {
        keys: &[(KeyCode::PageDown, NONE)],
        label: "PgDn",
        action: Action::PageDown,
        help: "page forward",
        footer: None,
    },
    Binding {
        keys: &[(KeyCode::Home, NONE)],
        label: "Home",
        action: Action::ScrollOldest,
        help: "oldest row",
        footer: None,
    },
    Binding {
        keys: &[(KeyCode::End, NONE)],
        label: "End",
        action: Action::FollowNewest,
        help: "follow newest row",
        footer: None,
    },
    Binding {
        keys: &[(KeyCode::F(1), NONE)],
        label: "F1",
        action: Action::Help,
        help: "this help",
        footer: Some(Footer {
            text: "F1 help",
            essential: true,
        }),
    },
    Binding {
        keys: &[(KeyCode::F(2), NONE)],
        label: "F2",
        action: Action::NextLatencyView,
        help: "chart, hist, socket",
        footer: None,
    },
    Binding {
        keys: &[(KeyCode::Esc, NONE)],
        label: "Esc",
        action: Action::Dismiss,
        help: "close help; all",
        footer: None,
    },
    Binding {
        keys: &[(KeyCode::Char('c'), CTRL), (KeyCode::Char('q'), CTRL)],
        label: "Ctrl-C, Ctrl-Q",
        action: Action::Quit,
        help: "quit",
        footer: Some(Footer {
            text: "Ctrl-C quit",
            essential: true,
        }),
    },
];

/// The action bound to a key press, if any. Releases and repeats of non-typing keys count
/// as presses only where the terminal reports them as such.
pub fn action_for(key: &KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    BINDINGS
        .iter()
        .find(|b| {
            b.keys
                .iter()
                .any(|&(code, mods)| key.code == code && key.modifiers == mods)
        })
        .map(|b| b.action)
}

/// The status bar's key hints, from the table; only the essential ones when `compact`.
pub fn footer_hints(compact: bool) -> impl Iterator<Item = &'static str> {
    BINDINGS
        .iter()
        .filter_map(|b| b.footer)
        .filter(move |f| f.essential || !compact)
        .map(|f| f.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_actions() {
        let press = |code, mods| action_for(&KeyEvent::new(code, mods));
        assert_eq!(press(KeyCode::Enter, NONE), Some(Action::Send));
        assert_eq!(press(KeyCode::Char('c'), CTRL), Some(Action::Quit));
        assert_eq!(press(KeyCode::Char('q'), CTRL), Some(Action::Quit));
        assert_eq!(press(KeyCode::BackTab, SHIFT), Some(Action::FocusPrev));
        assert_eq!(press(KeyCode::F(1), NONE), Some(Action::Help));
        assert_eq!(press(KeyCode::Char('c'), NONE), None, "plain c is typing");
    }

    #[test]
    fn no_key_is_bound_twice() {
        let mut seen = Vec::new();
        for binding in BINDINGS {
            for key in binding.keys {
                assert!(!seen.contains(key), "{key:?} bound twice");
                seen.push(*key);
            }
        }
    }

    #[test]
    fn footer_comes_from_the_table() {
        let hints: Vec<_> = footer_hints(false).collect();
        assert_eq!(hints, ["Enter send", "Tab focus", "F1 help", "Ctrl-C quit"]);
        let essential: Vec<_> = footer_hints(true).collect();
        assert_eq!(essential, ["F1 help", "Ctrl-C quit"]);
    }
}
