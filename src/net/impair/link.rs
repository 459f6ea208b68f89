//! One direction of the UDP relay, without its sockets: the judge that loses, doubles and
//! reorders datagrams, and the queue that holds them until they are due. Pure (no I/O, no
//! clock of its own), so its tests give it instants and dice.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::Arc;

use tokio::time::Instant;

use super::schedule::Schedule;
use super::{ImpairStats, Impairments, count};
use crate::units::Percent;

/// Datagrams one direction may hold; beyond, they are dropped and counted in
/// [`ImpairStats::overflowed`].
pub(super) const UDP_QUEUE: usize = 4096;

/// What a link carries: the relay's datagrams, or numbered stand-ins in tests.
pub(super) trait Packet: Clone {
    /// Its size in bytes, for pacing under a rate.
    fn size(&self) -> usize;
    /// When it reached the proxy, the instant its delay counts from.
    fn arrived(&self) -> Instant;
}

/// The judge and timer queue of one UDP direction.
pub(super) struct Link<P> {
    queue: BinaryHeap<Reverse<Queued<P>>>,
    /// The dice for loss, duplicate and reorder.
    rng: fastrand::Rng,
    schedule: Schedule,
    next_seq: u64,
    stats: Arc<ImpairStats>,
}

impl<P: Packet> Link<P> {
    /// An empty link throwing `rng`'s dice (seeded in tests, so that runs repeat).
    pub(super) fn new(stats: Arc<ImpairStats>, mut rng: fastrand::Rng) -> Self {
        Self {
            queue: BinaryHeap::new(),
            schedule: Schedule::new(rng.fork()),
            rng,
            next_seq: 0,
            stats,
        }
    }

    /// Loss, then duplication; each copy then goes through reordering and scheduling.
    pub(super) fn admit(&mut self, packet: P, impairments: &Impairments) {
        if happens(impairments.loss, &mut self.rng) {
            count(&self.stats.dropped);
            return;
        }
        if happens(impairments.duplicate, &mut self.rng) {
            count(&self.stats.duplicated);
            self.enqueue(packet.clone(), impairments);
        }
        self.enqueue(packet, impairments);
    }

    /// Queues one copy for when it is due. netem's reordering: with probability `reorder`
    /// a datagram is due at once, skipping delay, jitter and rate, and so overtakes every
    /// datagram still waiting; with no delay, nothing waits and nothing is overtaken.
    fn enqueue(&mut self, packet: P, impairments: &Impairments) {
        if self.queue.len() >= UDP_QUEUE {
            count(&self.stats.overflowed);
            return;
        }
        let arrived = packet.arrived();
        let due = if happens(impairments.reorder, &mut self.rng) {
            if self
                .queue
                .iter()
                .any(|Reverse(queued)| queued.due > arrived)
            {
                count(&self.stats.reordered);
            }
            arrived
        } else {
            let due = self
                .schedule
                .due(arrived, packet.size(), impairments, false);
            if due > arrived {
                count(&self.stats.delayed);
            }
            due
        };
        self.queue.push(Reverse(Queued {
            due,
            seq: self.next_seq,
            packet,
        }));
        self.next_seq += 1;
    }

    /// The next datagram due by `now`, if any.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<P> {
        if self.queue.peek()?.0.due > now {
            return None;
        }
        self.queue.pop().map(|Reverse(queued)| queued.packet)
    }

    /// When the next datagram becomes due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse(queued)| queued.due)
    }
}

/// One roll of the dice: true with probability `percent`.
fn happens(percent: Percent, rng: &mut fastrand::Rng) -> bool {
    percent.get() > 0.0 && rng.f64() * 100.0 < percent.get()
}

/// A datagram waiting for its time, ordered by due time, then by arrival at the queue (so
/// datagrams due at the same instant leave in the order they came).
struct Queued<P> {
    due: Instant,
    seq: u64,
    packet: P,
}

impl<P> PartialEq for Queued<P> {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}

impl<P> Eq for Queued<P> {}

impl<P> PartialOrd for Queued<P> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<P> Ord for Queued<P> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::Duration;

    use super::*;

    /// A numbered stand-in for a datagram.
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Numbered {
        id: u32,
        arrived: Instant,
    }

    impl Packet for Numbered {
        fn size(&self) -> usize {
            100
        }

        fn arrived(&self) -> Instant {
            self.arrived
        }
    }

    fn percent(value: f64) -> Percent {
        Percent::new(value).unwrap()
    }

    fn link() -> (Link<Numbered>, Arc<ImpairStats>) {
        let stats = Arc::new(ImpairStats::default());
        let link = Link::new(stats.clone(), fastrand::Rng::with_seed(862));
        (link, stats)
    }

    /// The ids of every datagram due by `now`, in the order they leave.
    fn drain(link: &mut Link<Numbered>, now: Instant) -> Vec<u32> {
        std::iter::from_fn(|| link.pop_due(now))
            .map(|packet| packet.id)
            .collect()
    }

    #[test]
    fn a_reordered_datagram_skips_the_delay_and_overtakes_the_queue() {
        let (mut link, stats) = link();
        let start = Instant::now();
        let delay = Duration::from_millis(10);
        let delayed = Impairments {
            delay,
            ..Impairments::default()
        };
        for id in 1..=3 {
            link.admit(Numbered { id, arrived: start }, &delayed);
        }
        let always = Impairments {
            reorder: percent(100.0),
            ..delayed
        };
        let later = start + Duration::from_millis(1);
        link.admit(
            Numbered {
                id: 4,
                arrived: later,
            },
            &always,
        );

        // 4 leaves as it arrives, 9 ms before the three that came before it.
        assert_eq!(drain(&mut link, later), [4]);
        assert_eq!(link.next_due(), Some(start + delay));
        assert_eq!(drain(&mut link, start + delay), [1, 2, 3]);
        assert_eq!(stats.reordered.load(Relaxed), 1);
        assert_eq!(stats.delayed.load(Relaxed), 3);
    }

    #[test]
    fn without_a_delay_reorder_has_nothing_to_overtake() {
        let (mut link, stats) = link();
        let always = Impairments {
            reorder: percent(100.0),
            ..Impairments::default()
        };
        let start = Instant::now();
        for id in 1..=5 {
            let arrived = start + Duration::from_micros(id.into());
            link.admit(Numbered { id, arrived }, &always);
        }
        assert_eq!(
            drain(&mut link, start + Duration::from_secs(1)),
            [1, 2, 3, 4, 5]
        );
        assert_eq!(stats.reordered.load(Relaxed), 0);
    }

    #[test]
    fn a_burst_under_delay_and_reorder_arrives_out_of_order_but_whole() {
        let (mut link, stats) = link();
        let link_settings = Impairments {
            delay: Duration::from_millis(50),
            reorder: percent(25.0),
            ..Impairments::default()
        };
        let start = Instant::now();
        let count = 200;
        for id in 0..count {
            let arrived = start + Duration::from_micros(id.into());
            link.admit(Numbered { id, arrived }, &link_settings);
        }
        let order = drain(&mut link, start + Duration::from_secs(1));
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..count).collect::<Vec<_>>(), "lost or doubled");
        let overtaken = order.windows(2).filter(|pair| pair[1] < pair[0]).count();
        assert!(overtaken > 0, "no datagram overtook another");
        // About a quarter skipped the queue (seeded dice: the same count every run).
        let reordered = stats.reordered.load(Relaxed);
        assert!((25..=75).contains(&reordered), "{reordered} of {count}");
    }

    #[test]
    fn loss_and_duplicate_are_counted_and_the_queue_is_bounded() {
        let (mut link, stats) = link();
        let now = Instant::now();
        let lose_all = Impairments {
            loss: percent(100.0),
            ..Impairments::default()
        };
        link.admit(
            Numbered {
                id: 1,
                arrived: now,
            },
            &lose_all,
        );
        assert_eq!(stats.dropped.load(Relaxed), 1);
        assert!(drain(&mut link, now).is_empty());

        let double_and_wait = Impairments {
            duplicate: percent(100.0),
            delay: Duration::from_secs(1),
            ..Impairments::default()
        };
        for _ in 0..UDP_QUEUE {
            link.admit(
                Numbered {
                    id: 2,
                    arrived: now,
                },
                &double_and_wait,
            );
        }
        assert_eq!(link.queue.len(), UDP_QUEUE);
        assert_eq!(stats.duplicated.load(Relaxed), UDP_QUEUE as u64);
        assert_eq!(stats.overflowed.load(Relaxed), UDP_QUEUE as u64);
        assert!(drain(&mut link, now).is_empty());
        assert_eq!(
            drain(&mut link, now + Duration::from_secs(1)).len(),
            UDP_QUEUE
        );
    }
}
