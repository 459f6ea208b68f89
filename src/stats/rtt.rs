//! Matching echoed bytes to the messages that were sent, over a byte stream.
//!
//! TCP has no message boundaries: one send may come back as several reads and several sends
//! as one read. So we never assume one read per send. Message *k* occupies stream bytes
//! `[start, end)` of everything we sent; it is echoed when the count of bytes received reaches
//! `end`. This works with any RFC 862 server, needs no framing, and survives any re-slicing.
//! The queue below stores those ranges implicitly: messages in send order, each with how many
//! of its bytes have come back.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Identifies one message the client sent, so rows and RTTs can refer to it.
pub type MessageId = u64;

/// What a batch of received bytes meant for the outstanding messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EchoUpdate {
    /// Some, but not all, of the message's bytes are back.
    Partial {
        id: MessageId,
        received: usize,
        total: usize,
    },
    /// Every byte is back and equals what was sent: this RTT is honest.
    Echoed { id: MessageId, rtt: Duration },
    /// Every byte is back but they differ from what was sent: no RTT is reported.
    Mismatch { id: MessageId, echoed: Vec<u8> },
    /// Bytes that arrived while nothing was outstanding (a greeting, a chatty peer).
    Unsolicited { bytes: Vec<u8> },
    /// UDP: no reply within the timeout.
    Lost { id: MessageId },
    /// UDP: a second reply to a datagram already answered.
    Duplicate { id: MessageId },
    /// We stopped waiting: the connection ended, or the client switched transport or route,
    /// before this message's echo was complete. Its bytes can never come back now.
    Abandoned { id: MessageId },
}

#[derive(Debug)]
struct Outstanding {
    id: MessageId,
    sent: Arc<[u8]>,
    sent_at: Instant,
    received: usize,
    /// What actually came back, kept only once it differs from what was sent.
    mismatched_echo: Option<Vec<u8>>,
}

/// Matches echoes to sends by cumulative byte offsets (see the module docs).
#[derive(Debug, Default)]
pub struct RttTracker {
    outstanding: VecDeque<Outstanding>,
}

impl RttTracker {
    /// Records that `bytes` were handed to the socket at `at` as message `id`.
    ///
    /// The bytes are shared, not copied: `ping` sends the same payload thousands of times.
    pub fn sent(&mut self, id: MessageId, bytes: Arc<[u8]>, at: Instant) {
        if bytes.is_empty() {
            return;
        }
        self.outstanding.push_back(Outstanding {
            id,
            sent: bytes,
            sent_at: at,
            received: 0,
            mismatched_echo: None,
        });
    }

    /// Consumes bytes read from the socket at `at`, appending what they completed to `updates`.
    pub fn received(&mut self, mut data: &[u8], at: Instant, updates: &mut Vec<EchoUpdate>) {
        while !data.is_empty() {
            let Some(front) = self.outstanding.front_mut() else {
                updates.push(EchoUpdate::Unsolicited {
                    bytes: data.to_vec(),
                });
                return;
            };
            let expected = &front.sent[front.received..];
            let take = expected.len().min(data.len());
            let chunk = &data[..take];
            match &mut front.mismatched_echo {
                Some(echo) => echo.extend_from_slice(chunk),
                None if expected[..take] != *chunk => {
                    let mut echo = front.sent[..front.received].to_vec();
                    echo.extend_from_slice(chunk);
                    front.mismatched_echo = Some(echo);
                }
                None => {}
            }
            front.received += take;
            data = &data[take..];
            if front.received < front.sent.len() {
                updates.push(EchoUpdate::Partial {
                    id: front.id,
                    received: front.received,
                    total: front.sent.len(),
                });
                continue;
            }
            let done = self
                .outstanding
                .pop_front()
                .expect("front exists: matched above");
            updates.push(match done.mismatched_echo {
                Some(echoed) => EchoUpdate::Mismatch {
                    id: done.id,
                    echoed,
                },
                None => EchoUpdate::Echoed {
                    id: done.id,
                    rtt: at.saturating_duration_since(done.sent_at),
                },
            });
        }
    }

    /// Messages sent but not yet fully echoed.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// Gives up on every outstanding message, oldest first: the connection is over, so their
    /// bytes will never come back.
    pub fn abandon_all(&mut self, updates: &mut Vec<EchoUpdate>) {
        updates.extend(
            self.outstanding
                .drain(..)
                .map(|message| EchoUpdate::Abandoned { id: message.id }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(tracker: &mut RttTracker, chunks: &[&[u8]], at: Instant) -> Vec<EchoUpdate> {
        let mut updates = Vec::new();
        for chunk in chunks {
            tracker.received(chunk, at, &mut updates);
        }
        updates
    }

    #[test]
    fn one_send_one_read() {
        let t0 = Instant::now();
        let mut tracker = RttTracker::default();
        tracker.sent(1, b"Hello, World!".as_slice().into(), t0);
        let updates = feed(
            &mut tracker,
            &[b"Hello, World!"],
            t0 + Duration::from_micros(87),
        );
        assert_eq!(
            updates,
            [EchoUpdate::Echoed {
                id: 1,
                rtt: Duration::from_micros(87)
            }]
        );
        assert_eq!(tracker.outstanding(), 0);
    }

    #[test]
    fn one_send_split_across_reads_reports_progress_then_rtt_of_last_byte() {
        let t0 = Instant::now();
        let mut tracker = RttTracker::default();
        tracker.sent(7, vec![b'x'; 4096].into(), t0);
        let mut updates = Vec::new();
        tracker.received(&[b'x'; 1024], t0 + Duration::from_micros(10), &mut updates);
        tracker.received(&[b'x'; 1024], t0 + Duration::from_micros(20), &mut updates);
        tracker.received(&[b'x'; 2048], t0 + Duration::from_micros(30), &mut updates);
        assert_eq!(
            updates,
            [
                EchoUpdate::Partial {
                    id: 7,
                    received: 1024,
                    total: 4096
                },
                EchoUpdate::Partial {
                    id: 7,
                    received: 2048,
                    total: 4096
                },
                EchoUpdate::Echoed {
                    id: 7,
                    rtt: Duration::from_micros(30)
                },
            ]
        );
    }

    #[test]
    fn several_sends_merged_into_one_read() {
        let t0 = Instant::now();
        let mut tracker = RttTracker::default();
        tracker.sent(1, b"ab".as_slice().into(), t0);
        tracker.sent(2, b"cd".as_slice().into(), t0 + Duration::from_micros(5));
        tracker.sent(3, b"ef".as_slice().into(), t0 + Duration::from_micros(9));
        let updates = feed(&mut tracker, &[b"abcde"], t0 + Duration::from_micros(50));
        assert_eq!(
            updates,
            [
                EchoUpdate::Echoed {
                    id: 1,
                    rtt: Duration::from_micros(50)
                },
                EchoUpdate::Echoed {
                    id: 2,
                    rtt: Duration::from_micros(45)
                },
                EchoUpdate::Partial {
                    id: 3,
                    received: 1,
                    total: 2
                },
            ]
        );
        let updates = feed(&mut tracker, &[b"f"], t0 + Duration::from_micros(60));
        assert_eq!(
            updates,
            [EchoUpdate::Echoed {
                id: 3,
                rtt: Duration::from_micros(51)
            }]
        );
    }

    #[test]
    fn any_reslicing_gives_the_same_completions() {
        let t0 = Instant::now();
        let messages: [&[u8]; 4] = [b"Hello", b", ", b"World", b"!"];
        let stream: Vec<u8> = messages.concat();
        for chunk_size in 1..=stream.len() {
            let mut tracker = RttTracker::default();
            for (id, m) in messages.iter().enumerate() {
                tracker.sent(id as u64, (*m).into(), t0);
            }
            let chunks: Vec<&[u8]> = stream.chunks(chunk_size).collect();
            let echoed: Vec<MessageId> = feed(&mut tracker, &chunks, t0)
                .into_iter()
                .filter_map(|u| match u {
                    EchoUpdate::Echoed { id, .. } => Some(id),
                    _ => None,
                })
                .collect();
            assert_eq!(echoed, [0, 1, 2, 3], "chunk size {chunk_size}");
        }
    }

    #[test]
    fn different_bytes_are_a_mismatch_not_an_rtt() {
        let t0 = Instant::now();
        let mut tracker = RttTracker::default();
        tracker.sent(1, b"hello".as_slice().into(), t0);
        tracker.sent(2, b"world".as_slice().into(), t0);
        let updates = feed(&mut tracker, &[b"HEL", b"LOworld"], t0);
        assert_eq!(
            updates,
            [
                EchoUpdate::Partial {
                    id: 1,
                    received: 3,
                    total: 5
                },
                EchoUpdate::Mismatch {
                    id: 1,
                    echoed: b"HELLO".to_vec()
                },
                EchoUpdate::Echoed {
                    id: 2,
                    rtt: Duration::ZERO
                },
            ]
        );
    }

    #[test]
    fn bytes_with_nothing_outstanding_are_unsolicited() {
        let t0 = Instant::now();
        let mut tracker = RttTracker::default();
        let updates = feed(&mut tracker, &[b"220 welcome\r\n"], t0);
        assert_eq!(
            updates,
            [EchoUpdate::Unsolicited {
                bytes: b"220 welcome\r\n".to_vec()
            }]
        );
        tracker.sent(1, b"hi".as_slice().into(), t0);
        let updates = feed(&mut tracker, &[b"hi!!"], t0);
        assert_eq!(
            updates,
            [
                EchoUpdate::Echoed {
                    id: 1,
                    rtt: Duration::ZERO
                },
                EchoUpdate::Unsolicited {
                    bytes: b"!!".to_vec()
                },
            ]
        );
    }

    #[test]
    fn empty_sends_are_ignored_and_the_rest_can_be_abandoned() {
        let t0 = Instant::now();
        let mut tracker = RttTracker::default();
        tracker.sent(1, Vec::new().into(), t0);
        assert_eq!(tracker.outstanding(), 0);
        tracker.sent(2, b"xy".as_slice().into(), t0);
        tracker.sent(3, b"z".as_slice().into(), t0);
        let mut updates = feed(&mut tracker, &[b"x"], t0);
        tracker.abandon_all(&mut updates);
        assert_eq!(
            updates,
            [
                EchoUpdate::Partial {
                    id: 2,
                    received: 1,
                    total: 2
                },
                EchoUpdate::Abandoned { id: 2 },
                EchoUpdate::Abandoned { id: 3 },
            ]
        );
        assert_eq!(tracker.outstanding(), 0);
    }
}
