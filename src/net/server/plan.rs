//! What the server writes back for each read: the plain echo, or the echo as a framed,
//! misbehaving server would write it. Pure (no I/O, no clock), so every server model — a
//! tokio task, a thread, the one-at-a-time loop — follows the same plan.

use std::sync::Arc;
use std::time::Duration;

use super::READ_PREVIEW_BYTES;
use crate::net::event::{CloseReason, ServerEventKind};
use crate::net::framing::{Deframer, FrameError, Framing};

/// A pause between two chunks of one echo under `--echo-chunks`: long enough that each
/// chunk leaves in a segment of its own, short enough not to matter to a person.
pub const CHUNK_GAP: Duration = Duration::from_millis(1);

/// How the server misbehaves on purpose (every one off by default), so a class sees what a
/// single `recv()` does against a real server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Misbehaviour {
    /// Write each echo back in writes of this many bytes, [`CHUNK_GAP`] apart.
    pub echo_chunks: Option<usize>,
    /// Wait this long before echoing each read: processing time, not network delay.
    pub think: Option<Duration>,
    /// Send this first, on accept.
    pub greeting: Option<Arc<[u8]>>,
    /// Close (FIN) after echoing this many bytes.
    pub close_after: Option<u64>,
    /// Abort (RST) after echoing this many bytes.
    pub reset_after: Option<u64>,
}

impl Misbehaviour {
    /// Whether the server behaves: each read is echoed at once, as it is.
    pub fn is_none(&self) -> bool {
        *self == Misbehaviour::default()
    }
}

/// One write the plan asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedWrite {
    pub bytes: Vec<u8>,
    /// Wait this long first.
    pub wait: Duration,
    pub note: WriteNote,
}

/// Why a write is not simply the read echoed, for the server's rows and log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteNote {
    /// The read echoed as it is (perhaps after thinking).
    Echo,
    /// Chunk `index` (from 1) of `of` of one echo.
    Chunk { index: usize, of: usize },
    /// A whole frame, assembled from `reads` reads.
    Frame { reads: usize },
}

/// How the connection ends after the planned writes, when the plan ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlannedEnd {
    /// `--close-after` reached: FIN.
    Close { after: u64 },
    /// `--reset-after` reached: RST.
    Reset { after: u64 },
    /// The stream could not be framed (a frame over the limit).
    BadFrame(FrameError),
}

impl PlannedEnd {
    /// How the server's rows and log say it.
    pub fn into_close_reason(self) -> CloseReason {
        match self {
            PlannedEnd::Close { after } => CloseReason::ClosedAfter(after),
            PlannedEnd::Reset { after } => CloseReason::ResetAfter(after),
            PlannedEnd::BadFrame(err) => CloseReason::BadFrame(err.to_string()),
        }
    }
}

/// The writes for one read, what to report about them, and whether the connection ends
/// after them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub writes: Vec<PlannedWrite>,
    /// For the server's rows and log: each frame, and each echo not written at once and whole.
    pub events: Vec<ServerEventKind>,
    pub end: Option<PlannedEnd>,
}

/// One connection's planner: the frame being assembled and the bytes echoed so far.
#[derive(Debug, Default)]
pub struct Planner {
    deframer: Deframer,
    echoed: u64,
}

impl Planner {
    /// Whether a read is echoed as it is, so the caller can write its buffer without a copy:
    /// the fast path, and the server's default.
    pub fn plain(framing: Framing, misbehaviour: &Misbehaviour) -> bool {
        framing == Framing::None && misbehaviour.is_none()
    }

    /// The writes for one read.
    pub fn on_read(&mut self, read: &[u8], framing: Framing, misbehaviour: &Misbehaviour) -> Plan {
        let units: Vec<(Vec<u8>, WriteNote)> = match framing {
            Framing::None => vec![(read.to_vec(), WriteNote::Echo)],
            _ => match self.deframer.push(framing, read) {
                Ok(frames) => frames
                    .into_iter()
                    .map(|frame| (frame.bytes, WriteNote::Frame { reads: frame.reads }))
                    .collect(),
                Err(err) => {
                    return Plan {
                        end: Some(PlannedEnd::BadFrame(err)),
                        ..Plan::default()
                    };
                }
            },
        };
        let mut plan = Plan::default();
        for (i, (mut bytes, note)) in units.into_iter().enumerate() {
            let end = self.budget(&mut bytes, misbehaviour);
            self.echoed += bytes.len() as u64;
            let len = bytes.len();
            if let WriteNote::Frame { reads } = note {
                let preview = bytes[..len.min(READ_PREVIEW_BYTES)].to_vec();
                plan.events.push(ServerEventKind::Frame {
                    len,
                    reads,
                    preview,
                });
            }
            let mut writes = chunked(bytes, note, misbehaviour.echo_chunks);
            let waited = misbehaviour.think.filter(|_| i == 0).unwrap_or_default();
            writes[0].wait += waited;
            if writes.len() > 1 || !waited.is_zero() {
                let chunks = writes.len();
                plan.events.push(ServerEventKind::Echoed {
                    len,
                    chunks,
                    waited,
                });
            }
            plan.writes.extend(writes);
            if end.is_some() {
                plan.end = end;
                break;
            }
        }
        plan
    }

    /// Cuts `bytes` to what `--close-after`/`--reset-after` still allow; says how the
    /// connection ends when the limit is reached.
    fn budget(&self, bytes: &mut Vec<u8>, misbehaviour: &Misbehaviour) -> Option<PlannedEnd> {
        let (limit, end): (u64, fn(u64) -> PlannedEnd) =
            match (misbehaviour.close_after, misbehaviour.reset_after) {
                (Some(close), Some(reset)) if reset < close => {
                    (reset, |after| PlannedEnd::Reset { after })
                }
                (Some(close), _) => (close, |after| PlannedEnd::Close { after }),
                (None, Some(reset)) => (reset, |after| PlannedEnd::Reset { after }),
                (None, None) => return None,
            };
        let left = limit.saturating_sub(self.echoed);
        if (bytes.len() as u64) < left {
            return None;
        }
        bytes.truncate(usize::try_from(left).unwrap_or(usize::MAX));
        Some(end(limit))
    }
}

/// `bytes` as writes of at most `chunk` bytes, [`CHUNK_GAP`] apart (one write without).
fn chunked(bytes: Vec<u8>, note: WriteNote, chunk: Option<usize>) -> Vec<PlannedWrite> {
    let Some(size) = chunk.filter(|&size| size > 0 && size < bytes.len()) else {
        return vec![PlannedWrite {
            bytes,
            wait: Duration::ZERO,
            note,
        }];
    };
    let of = bytes.len().div_ceil(size);
    bytes
        .chunks(size)
        .enumerate()
        .map(|(i, piece)| PlannedWrite {
            bytes: piece.to_vec(),
            wait: if i == 0 { Duration::ZERO } else { CHUNK_GAP },
            note: match (note, i) {
                // A frame's first chunk still says it is a frame.
                (WriteNote::Frame { .. }, 0) => note,
                _ => WriteNote::Chunk { index: i + 1, of },
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(plan: &Plan) -> Vec<&[u8]> {
        plan.writes.iter().map(|w| w.bytes.as_slice()).collect()
    }

    #[test]
    fn a_behaving_server_echoes_each_read_as_it_is() {
        let plain = Misbehaviour::default();
        assert!(Planner::plain(Framing::None, &plain));
        let plan = Planner::default().on_read(b"Hello", Framing::None, &plain);
        assert_eq!(bytes(&plan), [b"Hello"]);
        assert_eq!(plan.end, None);
    }

    #[test]
    fn chunks_come_apart_with_a_gap_and_thinking_comes_first() {
        let slow = Misbehaviour {
            echo_chunks: Some(5),
            think: Some(Duration::from_millis(200)),
            ..Misbehaviour::default()
        };
        assert!(!Planner::plain(Framing::None, &slow));
        let plan = Planner::default().on_read(b"Hello, World!", Framing::None, &slow);
        assert_eq!(bytes(&plan), [&b"Hello"[..], b", Wor", b"ld!"]);
        let waits: Vec<Duration> = plan.writes.iter().map(|w| w.wait).collect();
        assert_eq!(waits, [Duration::from_millis(200), CHUNK_GAP, CHUNK_GAP]);
        assert_eq!(plan.writes[2].note, WriteNote::Chunk { index: 3, of: 3 });
        assert_eq!(
            plan.events,
            [ServerEventKind::Echoed {
                len: 13,
                chunks: 3,
                waited: Duration::from_millis(200)
            }]
        );
    }

    #[test]
    fn close_after_echoes_exactly_that_many_bytes_then_ends() {
        let limited = Misbehaviour {
            close_after: Some(8),
            ..Misbehaviour::default()
        };
        let mut planner = Planner::default();
        assert_eq!(
            bytes(&planner.on_read(b"12345", Framing::None, &limited)),
            [b"12345"]
        );
        let plan = planner.on_read(b"67890", Framing::None, &limited);
        assert_eq!(bytes(&plan), [b"678"]);
        assert_eq!(plan.end, Some(PlannedEnd::Close { after: 8 }));
        let reset = Misbehaviour {
            reset_after: Some(3),
            close_after: Some(10),
            ..Misbehaviour::default()
        };
        let plan = Planner::default().on_read(b"abcdef", Framing::None, &reset);
        assert_eq!(plan.end, Some(PlannedEnd::Reset { after: 3 }));
    }

    #[test]
    fn framed_reads_are_echoed_frame_by_frame() {
        let mut planner = Planner::default();
        let plain = Misbehaviour::default();
        assert!(!Planner::plain(Framing::Line, &plain));
        assert!(
            planner
                .on_read(b"Hel", Framing::Line, &plain)
                .writes
                .is_empty()
        );
        let plan = planner.on_read(b"lo\nhi\n", Framing::Line, &plain);
        assert_eq!(bytes(&plan), [&b"Hello\n"[..], b"hi\n"]);
        assert_eq!(plan.writes[0].note, WriteNote::Frame { reads: 2 });
        assert_eq!(plan.writes[1].note, WriteNote::Frame { reads: 1 });
        assert!(matches!(
            plan.events[0],
            ServerEventKind::Frame {
                len: 6,
                reads: 2,
                ..
            }
        ));
    }

    #[test]
    fn a_frame_too_large_ends_the_connection() {
        let mut planner = Planner::default();
        let plain = Misbehaviour::default();
        let huge = vec![b'x'; crate::net::framing::MAX_FRAME + 1];
        let plan = planner.on_read(&huge, Framing::Line, &plain);
        assert_eq!(plan.end, Some(PlannedEnd::BadFrame(FrameError::TooLong)));
    }
}
