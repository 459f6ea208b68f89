//! A panic anywhere ends the program: the terminal is restored once, the panic is printed
//! where it can be read, and the exit status is 101, as Rust's own.
//!
//! Without this, a panic in a background task would only end that task: the UI would keep
//! drawing (over the panic text, once the terminal was restored) and the program would exit 0.
//! So the hook records the panic and cancels the shutdown token every task selects on; the
//! program then unwinds the normal way (the terminal guard restores the terminal), and
//! [`crate::run`] prints the report and returns 101. Headless modes print at once: there is no
//! screen to hide the text.

use std::backtrace::Backtrace;
use std::sync::{Mutex, Once, OnceLock};

use tokio_util::sync::CancellationToken;

use crate::terminal;

/// The first panic's report, kept until the terminal is back (later panics are consequences).
static REPORT: OnceLock<String> = OnceLock::new();
/// Who to tell: the run's shutdown token.
static SHUTDOWN: Mutex<Option<CancellationToken>> = Mutex::new(None);

/// Makes a panic on any thread end the run `shutdown` belongs to.
pub fn end_run_on_panic(shutdown: CancellationToken) {
    *crate::net::lock(&SHUTDOWN) = Some(shutdown);
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let print = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if terminal::in_use() {
                // On the alternate screen, in raw mode, the text would be lost: keep it for
                // when the terminal is restored.
                let _ = REPORT.set(format!("{info}\n{}", Backtrace::capture()));
            } else {
                print(info);
                let _ = REPORT.set(info.to_string());
            }
            if let Some(shutdown) = &*crate::net::lock(&SHUTDOWN) {
                shutdown.cancel();
            }
        }));
    });
}

/// Whether a panic happened: the run must end with 101.
pub fn happened() -> bool {
    REPORT.get().is_some()
}

/// Prints the report kept while the terminal was in use, once it no longer is.
pub fn print_kept_report() {
    if let Some(report) = REPORT.get()
        && !terminal::in_use()
    {
        eprintln!("echotui panicked: {report}");
    }
}

/// For the end-to-end tests: `ECHOTUI_TEST_PANIC=network` (or `ui`) makes that part panic
/// once it runs, so a test can watch the whole program end cleanly. Debug builds only.
#[cfg(debug_assertions)]
pub fn injected(site: &str) -> bool {
    std::env::var("ECHOTUI_TEST_PANIC").is_ok_and(|wanted| wanted == site)
}
