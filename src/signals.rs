//! Ctrl-C, SIGTERM and SIGHUP end every mode the same way: by cancelling the shutdown token
//! that every task selects on, so the program unwinds and restores the terminal.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Cancels `shutdown` on the first SIGINT, SIGTERM or SIGHUP.
pub fn cancel_on_signals(shutdown: CancellationToken) -> std::io::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
            _ = hangup.recv() => {}
            _ = shutdown.cancelled() => return,
        }
        shutdown.cancel();
    });
    Ok(())
}
