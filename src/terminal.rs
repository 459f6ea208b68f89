//! The terminal as a resource: raw mode and the alternate screen are entered by
//! [`TerminalGuard::enter`] and always left again, on return, on error and on panic.

use std::io::{self, IsTerminal, Stdout};
use std::sync::Once;

use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::execute;
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The message for running a TUI mode without a terminal: it names the modes that need none.
pub const NEEDS_A_TERMINAL: &str = "echotui needs a terminal; for scripts use 'echotui ping', \
     'echotui bench' or 'echotui serve --headless'";

/// Holds the terminal in raw mode on the alternate screen; restores it when dropped.
pub struct TerminalGuard {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
}

/// Fails with [`NEEDS_A_TERMINAL`] when stdin or stdout is not a terminal. TUI modes call
/// this first, before they bind or connect anything.
pub fn require_terminal() -> anyhow::Result<()> {
    if !io::stdin().is_terminal() || !io::stdout().is_terminal() {
        anyhow::bail!(NEEDS_A_TERMINAL);
    }
    Ok(())
}

impl TerminalGuard {
    /// Takes over the terminal; fails with [`NEEDS_A_TERMINAL`] when stdin or stdout is not one.
    pub fn enter() -> anyhow::Result<Self> {
        require_terminal()?;
        install_panic_hook();
        terminal::enable_raw_mode()?;
        let mut stdout = io::stdout();
        if let Err(err) = execute!(stdout, EnterAlternateScreen, EnableBracketedPaste) {
            restore();
            return Err(err.into());
        }
        match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(terminal) => Ok(Self { terminal }),
            Err(err) => {
                restore();
                Err(err.into())
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves raw mode and the alternate screen and shows the cursor. Safe to call twice.
fn restore() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// A panic must not leave the user in raw mode with the message hidden on the alternate
/// screen: restore first, then let the default hook print.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
