//! A flood of the same notice, told once a second with a count: one line per source per
//! second, and one for everyone beyond a handful of sources, so what a server logs about a
//! flood grows with time, never with the attacker's packet rate or number of addresses.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// How long one report stands for.
pub const WINDOW: Duration = Duration::from_secs(1);
/// Sources reported one by one per window; occurrences beyond go into one total.
pub const SOURCES_PER_WINDOW: usize = 8;

/// What to tell about a flood (see the module docs), by key (a source), with the details `D`
/// of the latest occurrence. Pure: callers pass the time.
#[derive(Debug)]
pub struct Throttle<K, D> {
    /// Keys reported in the current window, with what happened since their last report.
    keys: HashMap<K, Unreported<D>>,
    window_start: Option<Instant>,
    /// Occurrences from keys beyond [`SOURCES_PER_WINDOW`] in this window.
    others: u64,
    /// Counts of a window that ended before the caller collected them, kept until it does.
    ready: Vec<Report<K, D>>,
}

#[derive(Debug)]
struct Unreported<D> {
    count: u64,
    latest: D,
}

/// A report due: `count` occurrences for `key`, the latest with `detail` (`None`: from keys
/// beyond the first few).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report<K, D> {
    pub key: Option<(K, D)>,
    pub count: u64,
}

impl<K: Hash + Eq + Clone, D> Default for Throttle<K, D> {
    fn default() -> Self {
        Self {
            keys: HashMap::new(),
            window_start: None,
            others: 0,
            ready: Vec::new(),
        }
    }
}

impl<K: Hash + Eq + Clone, D> Throttle<K, D> {
    /// Something happened for `key` at `now`: `true` when it is to be told at once (the first
    /// time in a window, for one of the first few keys); otherwise it is counted, and told by
    /// [`Throttle::due`] when the window ends.
    pub fn occurred(&mut self, key: &K, detail: D, now: Instant) -> bool {
        let start = *self.window_start.get_or_insert(now);
        if now.duration_since(start) >= WINDOW {
            // The window ended before the caller's timer collected it (a busy loop may see
            // the next occurrence first): its counts wait in `ready`, never lost.
            self.close_window();
            self.window_start = Some(now);
        }
        if let Some(unreported) = self.keys.get_mut(key) {
            unreported.count += 1;
            unreported.latest = detail;
            return false;
        }
        if self.keys.len() < SOURCES_PER_WINDOW {
            let first = Unreported {
                count: 0,
                latest: detail,
            };
            self.keys.insert(key.clone(), first);
            return true;
        }
        self.others += 1;
        false
    }

    /// When to collect [`Throttle::due`]: the end of the current window, or now if counts of
    /// an earlier one are waiting; `None` when nothing happened.
    pub fn deadline(&self) -> Option<Instant> {
        let window_end = self.window_start.map(|start| start + WINDOW);
        if self.ready.is_empty() {
            window_end
        } else {
            // Counts are waiting: at once (any instant not after the end of the window).
            window_end.map(|end| end - WINDOW)
        }
    }

    /// The counts still to tell: those of every window that has ended (the caller calls this
    /// at each [`Throttle::deadline`]).
    pub fn due(&mut self, now: Instant) -> Vec<Report<K, D>> {
        if self
            .window_start
            .is_some_and(|start| now.duration_since(start) >= WINDOW)
        {
            self.close_window();
            self.window_start = None;
        }
        std::mem::take(&mut self.ready)
    }

    /// Moves the current window's untold counts to `ready`.
    fn close_window(&mut self) {
        let reports = self
            .keys
            .drain()
            .filter(|(_, unreported)| unreported.count > 0)
            .map(|(key, unreported)| Report {
                key: Some((key, unreported.latest)),
                count: unreported.count,
            });
        self.ready.extend(reports);
        if self.others > 0 {
            self.ready.push(Report {
                key: None,
                count: self.others,
            });
        }
        self.others = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_from_one_source_is_told_once_then_counted() {
        let mut throttle = Throttle::default();
        let t0 = Instant::now();
        assert!(throttle.occurred(&"a", 0, t0));
        for i in 1..1000u64 {
            assert!(!throttle.occurred(&"a", i, t0 + Duration::from_micros(i)));
        }
        assert!(throttle.due(t0 + Duration::from_millis(999)).is_empty());
        let reports = throttle.due(t0 + WINDOW);
        assert_eq!(
            reports,
            [Report {
                key: Some(("a", 999)),
                count: 999
            }]
        );
        // A new window: told at once again.
        assert!(throttle.occurred(&"a", 0, t0 + WINDOW));
    }

    #[test]
    fn a_window_that_ends_before_it_is_collected_keeps_its_counts() {
        let mut throttle = Throttle::default();
        let t0 = Instant::now();
        assert!(throttle.occurred(&"a", 1, t0));
        assert!(!throttle.occurred(&"a", 2, t0));
        // The next occurrence comes after the window, before the caller collected it.
        assert!(throttle.occurred(&"a", 3, t0 + WINDOW));
        assert!(throttle.deadline().unwrap() <= t0 + WINDOW);
        let reports = throttle.due(t0 + WINDOW);
        assert_eq!(
            reports,
            [Report {
                key: Some(("a", 2)),
                count: 1
            }]
        );
    }

    #[test]
    fn many_sources_are_told_as_one_total_beyond_a_few() {
        let mut throttle = Throttle::default();
        let t0 = Instant::now();
        let told = (0..10_000u32)
            .filter(|i| throttle.occurred(i, (), t0))
            .count();
        assert_eq!(told, SOURCES_PER_WINDOW);
        let reports = throttle.due(t0 + WINDOW);
        assert_eq!(
            reports,
            [Report {
                key: None,
                count: 10_000 - SOURCES_PER_WINDOW as u64,
            }]
        );
    }
}
