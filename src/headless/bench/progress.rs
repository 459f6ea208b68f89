//! The live line on stderr while a bench runs: rate and percentiles of the last interval,
//! redrawn in place.
//!
//! Each connection records its RTTs into a small histogram of its own (one uncontended lock
//! per read); a tick folds them into one and resets them. The final figures never come from
//! here: they are each connection's exact [`RttStats`](crate::stats::RttStats), merged.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::net;
use crate::units;

/// How often the live line is redrawn.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);
/// Largest RTT the live histograms track; larger ones are clamped.
const LIVE_MAX_NS: u64 = 3_600_000_000_000;

/// One connection's RTTs since the last tick, shared with the [`Progress`] that shows them.
pub type LiveRtts = Arc<Mutex<Histogram<u64>>>;

/// Adds one RTT to a connection's live histogram (its lock already held by the caller, so a
/// read that completes several messages locks once).
pub fn record(live: &mut Histogram<u64>, rtt: Duration) {
    let ns = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX);
    live.saturating_record(ns.clamp(1, LIVE_MAX_NS));
}

/// The live line: every connection's histogram, and the interval they are folded into.
pub struct Progress {
    live: Vec<LiveRtts>,
    window: Histogram<u64>,
    shown_at: Duration,
}

impl Progress {
    /// A live line that no connection records into yet (see [`Progress::track`]).
    pub fn new() -> Self {
        Self {
            live: Vec::new(),
            window: live_histogram(),
            shown_at: Duration::ZERO,
        }
    }

    /// A histogram for one more connection to record its RTTs into.
    pub fn track(&mut self) -> LiveRtts {
        let live = Arc::new(Mutex::new(live_histogram()));
        self.live.push(live.clone());
        live
    }

    /// Redraws the line for the interval since the last call, `elapsed` into the phase.
    pub fn show(&mut self, elapsed: Duration) {
        for live in &self.live {
            let mut live = net::lock(live);
            // Same bounds on both sides and values clamped to them: the addition cannot fail,
            // and a progress line is no reason to stop a bench anyway.
            let _ = self.window.add(&*live);
            live.reset();
        }
        let interval = (elapsed - self.shown_at).as_secs_f64();
        self.shown_at = elapsed;
        let mut line = format!("\r\x1b[2K{:>7}", units::duration(elapsed));
        if self.window.is_empty() || interval <= 0.0 {
            line.push_str("  waiting for echoes");
        } else {
            let micros = |q| units::micros(self.window.value_at_quantile(q) as f64 / 1e3);
            line += &format!(
                "  {:>9.0} msgs/s  p50 {}  p99 {}",
                self.window.len() as f64 / interval,
                micros(0.50),
                micros(0.99)
            );
        }
        self.window.reset();
        // A progress line that cannot be written is not worth failing the bench for.
        let mut stderr = io::stderr().lock();
        let _ = stderr.write_all(line.as_bytes());
        let _ = stderr.flush();
    }

    /// Erases the line, so the report starts on a clean one.
    pub fn clear(self) {
        let _ = io::stderr().write_all(b"\r\x1b[2K");
    }
}

/// Two significant digits are plenty for a line that changes four times a second.
fn live_histogram() -> Histogram<u64> {
    // Constant bounds that satisfy hdrhistogram's rules (low ≥ 1, high ≥ 2·low, sigfig ≤ 5).
    Histogram::new_with_bounds(1, LIVE_MAX_NS, 2).expect("constant histogram bounds are valid")
}
