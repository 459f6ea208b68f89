//! When a chunk or datagram is delivered: delay ± jitter, then pacing under a rate. Pure
//! arithmetic on instants, shared by both relays so that TCP and UDP are impaired alike.

use std::time::Duration;

use tokio::time::Instant;

use super::Impairments;

/// Longest delay or jitter honoured; longer values are clamped, which keeps every deadline
/// computation far from overflowing.
const MAX_DELAY: Duration = Duration::from_secs(3600);

/// Turns impairments into delivery times for one direction.
pub(super) struct Schedule {
    rng: fastrand::Rng,
    /// When the latest unit scheduled so far is delivered.
    last_due: Option<Instant>,
}

impl Schedule {
    /// A schedule drawing its jitter from `rng` (seeded in tests, so draws repeat).
    pub(super) fn new(rng: fastrand::Rng) -> Self {
        Self {
            rng,
            last_due: None,
        }
    }

    /// When `len` bytes that reached the proxy at `arrived` are delivered: after delay ±
    /// jitter, then, under a rate, after the previous unit has finished plus `len / rate`
    /// (netem's arithmetic). `in_order` also forbids overtaking without a rate, which TCP's
    /// byte stream needs. With neither delay nor rate the answer is `arrived` itself.
    pub(super) fn due(
        &mut self,
        arrived: Instant,
        len: usize,
        impairments: &Impairments,
        in_order: bool,
    ) -> Instant {
        let rate = impairments.rate();
        let earliest = arrived + self.propagation(impairments);
        let start = match self.last_due {
            Some(last) if in_order || rate.is_some() => earliest.max(last),
            _ => earliest,
        };
        let due = match rate {
            Some(rate) => start + transmit_time(len, rate),
            None => start,
        };
        self.last_due = Some(self.last_due.map_or(due, |last| last.max(due)));
        due
    }

    /// One draw of `delay` ± uniform `jitter`, never below zero.
    fn propagation(&mut self, impairments: &Impairments) -> Duration {
        let delay = impairments.delay.min(MAX_DELAY);
        let jitter = impairments.jitter.min(MAX_DELAY);
        if jitter.is_zero() {
            return delay;
        }
        // Clamped to an hour, both are below 3.7e12 ns: the casts are exact.
        let jitter = jitter.as_nanos() as i64;
        let nanos = (delay.as_nanos() as i64 + self.rng.i64(-jitter..=jitter)).max(0);
        Duration::from_nanos(nanos as u64)
    }
}

/// How long `len` bytes take at `rate` bytes per second (`rate` > 0).
fn transmit_time(len: usize, rate: u64) -> Duration {
    // At most 65,536 bytes at 1 B/s: 6.6e13 ns, well inside u64.
    let nanos = len as u128 * 1_000_000_000 / u128::from(rate.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Schedule {
        Schedule::new(fastrand::Rng::with_seed(862))
    }

    #[test]
    fn jitter_stays_within_bounds_and_never_goes_negative() {
        let mut schedule = schedule();
        let link = Impairments {
            delay: Duration::from_millis(5),
            jitter: Duration::from_millis(10),
            ..Impairments::default()
        };
        let draws: Vec<_> = (0..10_000).map(|_| schedule.propagation(&link)).collect();
        assert!(draws.iter().all(|d| *d <= Duration::from_millis(15)));
        // P(delay − jitter·u < 0) = 25%: some draws are clamped to exactly zero, some are not.
        assert!(draws.iter().any(|d| d.is_zero()));
        assert!(draws.iter().any(|d| *d > Duration::from_millis(10)));
    }

    #[test]
    fn in_order_schedule_never_lets_a_chunk_overtake() {
        let mut schedule = schedule();
        let link = Impairments {
            delay: Duration::from_millis(1),
            jitter: Duration::from_millis(1),
            ..Impairments::default()
        };
        let start = Instant::now();
        let mut last = start;
        for i in 0..10_000u32 {
            let arrived = start + Duration::from_micros(u64::from(i) * 10);
            let due = schedule.due(arrived, 100, &link, true);
            assert!(due >= last && due >= arrived);
            last = due;
        }
    }

    #[test]
    fn rate_spaces_units_by_their_transmission_time() {
        let mut schedule = schedule();
        let paced = Impairments {
            rate: Some(10_000),
            ..Impairments::default()
        };
        let start = Instant::now();
        let dues: Vec<_> = (0..10)
            .map(|_| schedule.due(start, 1000, &paced, false))
            .collect();
        for (i, due) in dues.iter().enumerate() {
            assert_eq!(*due - start, Duration::from_millis(100) * (i as u32 + 1));
        }
        // Idle long enough, the next unit starts when it arrives, not after the backlog.
        let later = start + Duration::from_secs(5);
        assert_eq!(
            schedule.due(later, 1000, &paced, false) - later,
            Duration::from_millis(100)
        );
    }
}
