//! Matching UDP replies to the datagrams that were sent, for the interactive client.
//!
//! UDP keeps message boundaries but promises nothing else: a datagram may be lost,
//! duplicated or overtaken. An interactive user types text, so replies are matched by
//! payload: the oldest outstanding datagram with exactly those bytes (FIFO among identical
//! payloads). A reply that matches nothing outstanding but something recently echoed is a
//! duplicate; one that is a strict prefix of an outstanding datagram is that datagram cut by
//! a small server buffer (shown as a mismatch, with what came back); anything else is
//! unsolicited. Datagrams unanswered after the timeout are lost. (`ping --udp` does better
//! with a sequence number and a nonce in each probe; see [`super::probes`].)

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::rtt::{EchoUpdate, MessageId};

/// Echoed payloads remembered for recognising duplicates.
const RECENT_ECHOES: usize = 64;

#[derive(Debug)]
struct Outstanding {
    id: MessageId,
    sent: Arc<[u8]>,
    sent_at: Instant,
}

/// Matches datagram replies by payload, with loss after a timeout (see the module docs).
#[derive(Debug)]
pub struct DatagramTracker {
    timeout: Duration,
    outstanding: VecDeque<Outstanding>,
    recent: VecDeque<(MessageId, Arc<[u8]>)>,
}

impl DatagramTracker {
    /// A tracker that declares a datagram lost `timeout` after it was sent.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            outstanding: VecDeque::new(),
            recent: VecDeque::with_capacity(RECENT_ECHOES),
        }
    }

    /// Records that datagram `id` carrying `bytes` was sent at `at`.
    pub fn sent(&mut self, id: MessageId, bytes: Arc<[u8]>, at: Instant) {
        self.outstanding.push_back(Outstanding {
            id,
            sent: bytes,
            sent_at: at,
        });
    }

    /// Classifies one reply datagram received at `at`.
    pub fn received(&mut self, data: &[u8], at: Instant) -> EchoUpdate {
        if let Some(i) = self.outstanding.iter().position(|o| *o.sent == *data) {
            let Some(done) = self.outstanding.remove(i) else {
                unreachable!("position() found index {i}")
            };
            let rtt = at.saturating_duration_since(done.sent_at);
            self.remember(done.id, done.sent);
            return EchoUpdate::Echoed { id: done.id, rtt };
        }
        if let Some((id, _)) = self.recent.iter().rev().find(|(_, sent)| **sent == *data) {
            return EchoUpdate::Duplicate { id: *id };
        }
        let cut = self
            .outstanding
            .iter()
            .position(|o| o.sent.len() > data.len() && o.sent.starts_with(data));
        if let Some(done) = cut.and_then(|i| self.outstanding.remove(i)) {
            return EchoUpdate::Mismatch {
                id: done.id,
                echoed: data.to_vec(),
            };
        }
        EchoUpdate::Unsolicited {
            bytes: data.to_vec(),
        }
    }

    /// Declares lost every datagram sent more than the timeout before `now`.
    pub fn expire(&mut self, now: Instant, updates: &mut Vec<EchoUpdate>) {
        while let Some(oldest) = self.outstanding.front() {
            if now.saturating_duration_since(oldest.sent_at) < self.timeout {
                break;
            }
            if let Some(lost) = self.outstanding.pop_front() {
                updates.push(EchoUpdate::Lost { id: lost.id });
            }
        }
    }

    /// Forgets datagram `id` without an outcome: it never left (the send failed), so the
    /// caller reports it as not sent instead.
    pub fn forget(&mut self, id: MessageId) {
        self.outstanding.retain(|o| o.id != id);
    }

    /// Gives up on every outstanding datagram, oldest first: the socket is being closed, so
    /// no reply can reach us any more.
    pub fn abandon_all(&mut self, updates: &mut Vec<EchoUpdate>) {
        updates.extend(
            self.outstanding
                .drain(..)
                .map(|o| EchoUpdate::Abandoned { id: o.id }),
        );
    }

    /// When the oldest outstanding datagram will be declared lost, if any is outstanding.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.outstanding.front().map(|o| o.sent_at + self.timeout)
    }

    /// Datagrams sent and not yet answered or lost.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    fn remember(&mut self, id: MessageId, sent: Arc<[u8]>) {
        if self.recent.len() == RECENT_ECHOES {
            self.recent.pop_front();
        }
        self.recent.push_back((id, sent));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(2);

    fn tracker_with(sent: &[(MessageId, &[u8])], at: Instant) -> DatagramTracker {
        let mut tracker = DatagramTracker::new(TIMEOUT);
        for (id, bytes) in sent {
            tracker.sent(*id, (*bytes).into(), at);
        }
        tracker
    }

    #[test]
    fn replies_match_by_payload_even_out_of_order() {
        let t0 = Instant::now();
        let mut tracker = tracker_with(&[(1, b"a"), (2, b"b")], t0);
        let later = t0 + Duration::from_micros(70);
        assert_eq!(
            tracker.received(b"b", later),
            EchoUpdate::Echoed {
                id: 2,
                rtt: Duration::from_micros(70)
            }
        );
        assert_eq!(
            tracker.received(b"a", later),
            EchoUpdate::Echoed {
                id: 1,
                rtt: Duration::from_micros(70)
            }
        );
        assert_eq!(tracker.outstanding(), 0);
    }

    #[test]
    fn identical_payloads_match_oldest_first() {
        let t0 = Instant::now();
        let mut tracker = tracker_with(&[(1, b"x"), (2, b"x")], t0);
        assert!(matches!(
            tracker.received(b"x", t0),
            EchoUpdate::Echoed { id: 1, .. }
        ));
        assert!(matches!(
            tracker.received(b"x", t0),
            EchoUpdate::Echoed { id: 2, .. }
        ));
    }

    #[test]
    fn a_second_reply_is_a_duplicate_not_a_new_rtt() {
        let t0 = Instant::now();
        let mut tracker = tracker_with(&[(5, b"hello")], t0);
        assert!(matches!(
            tracker.received(b"hello", t0),
            EchoUpdate::Echoed { id: 5, .. }
        ));
        assert_eq!(
            tracker.received(b"hello", t0),
            EchoUpdate::Duplicate { id: 5 }
        );
    }

    #[test]
    fn a_cut_reply_is_a_mismatch_showing_what_came_back() {
        let t0 = Instant::now();
        let mut tracker = tracker_with(&[(1, b"Hello, World!")], t0);
        assert_eq!(
            tracker.received(b"Hello, ", t0),
            EchoUpdate::Mismatch {
                id: 1,
                echoed: b"Hello, ".to_vec()
            }
        );
        assert_eq!(tracker.outstanding(), 0);
    }

    #[test]
    fn unknown_bytes_are_unsolicited() {
        let t0 = Instant::now();
        let mut tracker = tracker_with(&[(1, b"ping")], t0);
        assert_eq!(
            tracker.received(b"surprise", t0),
            EchoUpdate::Unsolicited {
                bytes: b"surprise".to_vec()
            }
        );
        assert_eq!(tracker.outstanding(), 1);
    }

    #[test]
    fn a_datagram_that_never_left_is_forgotten_and_the_rest_abandoned() {
        let t0 = Instant::now();
        let mut tracker = tracker_with(&[(1, b"a"), (2, b"b"), (3, b"c")], t0);
        tracker.forget(2);
        let mut updates = Vec::new();
        tracker.abandon_all(&mut updates);
        assert_eq!(
            updates,
            [
                EchoUpdate::Abandoned { id: 1 },
                EchoUpdate::Abandoned { id: 3 }
            ]
        );
        assert_eq!(tracker.next_deadline(), None);
    }

    #[test]
    fn unanswered_datagrams_are_lost_after_the_timeout() {
        let t0 = Instant::now();
        let mut tracker = tracker_with(&[(1, b"a")], t0);
        tracker.sent(2, b"b".as_slice().into(), t0 + Duration::from_secs(1));
        assert_eq!(tracker.next_deadline(), Some(t0 + TIMEOUT));
        let mut updates = Vec::new();
        tracker.expire(t0 + Duration::from_millis(1999), &mut updates);
        assert!(updates.is_empty());
        tracker.expire(t0 + TIMEOUT, &mut updates);
        assert_eq!(updates, [EchoUpdate::Lost { id: 1 }]);
        assert_eq!(tracker.next_deadline(), Some(t0 + Duration::from_secs(3)));
        // A reply after the loss is no longer matched to it.
        assert!(matches!(
            tracker.received(b"a", t0 + TIMEOUT),
            EchoUpdate::Unsolicited { .. }
        ));
    }
}
