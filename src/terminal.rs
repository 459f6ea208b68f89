//! The terminal as a resource: raw mode and the alternate screen are entered by
//! [`TerminalGuard::enter`] and always left again, on return, on error and on panic.

use std::io::{self, IsTerminal, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The message for running a TUI mode without a terminal: it names the modes that need none.
pub const NEEDS_A_TERMINAL: &str = "echotui needs a terminal; for scripts use 'echotui ping', \
     'echotui bench' or 'echotui serve --headless'";

/// Whether raw mode and the alternate screen are on: what to restore, and whether a panic's
/// text would be lost if printed now.
static IN_USE: AtomicBool = AtomicBool::new(false);
/// Whether mouse capture is on: restoring turns it off (a terminal left capturing would
/// print escape codes on every click).
static MOUSE: AtomicBool = AtomicBool::new(false);

/// Whether the terminal is taken over by the UI right now.
pub fn in_use() -> bool {
    IN_USE.load(Ordering::SeqCst)
}

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
    /// Takes over the terminal, capturing the mouse when `mouse` is set; fails with
    /// [`NEEDS_A_TERMINAL`] when stdin or stdout is not one.
    pub fn enter(mouse: bool) -> anyhow::Result<Self> {
        require_terminal()?;
        terminal::enable_raw_mode()?;
        IN_USE.store(true, Ordering::SeqCst);
        let mut stdout = io::stdout();
        if let Err(err) = execute!(stdout, EnterAlternateScreen, EnableBracketedPaste) {
            restore();
            return Err(err.into());
        }
        // A terminal that cannot report the mouse ignores the request: nothing breaks.
        if mouse && execute!(stdout, EnableMouseCapture).is_ok() {
            MOUSE.store(true, Ordering::SeqCst);
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

/// Leaves raw mode and the alternate screen and shows the cursor, once.
fn restore() {
    if !IN_USE.swap(false, Ordering::SeqCst) {
        return;
    }
    let _ = terminal::disable_raw_mode();
    if MOUSE.swap(false, Ordering::SeqCst) {
        let _ = execute!(io::stdout(), DisableMouseCapture);
    }
    let _ = execute!(
        io::stdout(),
        DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}
