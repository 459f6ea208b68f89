//! The harness shared by the integration test binaries, one module per job. Each binary
//! declares `mod common;` and uses its own part of it (hence `dead_code` is allowed here: no
//! binary uses everything).
//!
//! | module | what it gives a test |
//! |---|---|
//! | this one | the bounds every wait respects ([`STEP`], [`IO_TIMEOUT`]) and the bounded ways to wait |
//! | [`payloads`] | the bytes tests send: the tutorial's message, a hostile one, patterned ones |
//! | [`servers`] | our echo servers in-process on a free loopback port, and the log of their events |
//! | [`client`] | our client actor, driven command by command, its events awaited one by one |
//! | [`peers`] | `std::net` servers written here: echo peers honest or not, a port nobody serves |
//! | [`sockets`] | blocking `std::net` clients, TCP and UDP, every call bounded |
//! | [`process`] | child processes: `echotui` runs, signals, a child killed when the test ends |
//! | [`headless`] | `echotui serve --headless` as a child, its log read as it grows |
//! | [`reports`] | checks on the JSON reports of `ping` and `bench` |
#![allow(dead_code)]

pub mod client;
pub mod headless;
pub mod payloads;
pub mod peers;
pub mod process;
pub mod reports;
pub mod servers;
pub mod sockets;

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::time::timeout;

/// The longest any single wait may take before the test fails instead of hanging: far more
/// than anything takes on a loaded machine, so reaching it means something is broken.
pub const STEP: Duration = Duration::from_secs(10);
/// Every blocking socket call in a test helper gives up after this long, so no test can hang.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between two looks at something that has no event to await (a child process, a
/// counter another thread moves).
pub const POLL: Duration = Duration::from_millis(10);

/// Awaits `future` for at most [`STEP`]: an await that could hang, made into one that fails
/// and says what it was waiting for.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    timeout(STEP, future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {STEP:?}: {what}"))
}

/// Runs blocking socket code off the async threads, bounded by [`STEP`] like every other
/// wait: a blocking call on an async worker would stall the server under test with it.
pub async fn blocking<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    blocking_within(what, STEP, f).await
}

/// [`blocking`] with another bound, for work that does many bounded steps (a flood, a churn).
pub async fn blocking_within<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    timeout(limit, tokio::task::spawn_blocking(f))
        .await
        .unwrap_or_else(|_| panic!("timed out after {limit:?}: {what}"))
        .unwrap_or_else(|err| panic!("{what} panicked: {err}"))
}

/// Looks at `check` every [`POLL`] until it gives a value, for at most `limit`; `None` if it
/// never did. For what a test can only look at, not await (a child process, a thread's
/// progress); the caller fails with whatever context explains the timeout best.
pub fn poll<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL);
    }
}

/// Looks at `check` every [`POLL`] until it gives a value, failing after [`STEP`] with
/// `what`: [`poll`] for async tests, sleeping on tokio's timer between looks so that the
/// runtime's other tasks (the server under test) keep running on this thread meanwhile.
pub async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let looking = async {
        loop {
            if let Some(value) = check() {
                return value;
            }
            tokio::time::sleep(POLL).await;
        }
    };
    within(what, looking).await
}
