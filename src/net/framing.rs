//! Framing: how a protocol puts message boundaries back into a byte stream.
//!
//! TCP delivers bytes, not messages: one send may arrive as several reads and several sends
//! as one. A protocol fixes that by framing each message, and both ends agree how: `line`
//! ends each message with `\n`; `len16` puts its length first, two bytes big-endian. The
//! client frames what it sends ([`Framing::frame`]); the server collects reads until a whole
//! frame is there ([`Deframer`]) and echoes each frame as one write.

use std::fmt;
use std::str::FromStr;

/// The largest frame either end accepts: a frame that would need more is an error that closes
/// the connection, never a reason to buffer without bound.
pub const MAX_FRAME: usize = 64 * 1024;

/// How messages are delimited on the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// No framing: the echo protocol itself (RFC 862), bytes as they come.
    #[default]
    None,
    /// Each message ends with `\n`.
    Line,
    /// Each message starts with its length, 16 bits big-endian (so at most 65,535 bytes).
    Len16,
}

impl Framing {
    /// `message` as it goes on the wire. `Err` when it cannot be framed: a line holding a
    /// `\n` of its own, or a message too long for its length prefix or for [`MAX_FRAME`].
    pub fn frame(self, message: &[u8]) -> Result<Vec<u8>, FrameError> {
        match self {
            Framing::None => Ok(message.to_vec()),
            Framing::Line if message.contains(&b'\n') => Err(FrameError::NewlineInLine),
            Framing::Line if message.len() + 1 > MAX_FRAME => Err(FrameError::TooLong),
            Framing::Line => Ok([message, b"\n"].concat()),
            Framing::Len16 => {
                let len = u16::try_from(message.len()).map_err(|_| FrameError::TooLong)?;
                Ok([&len.to_be_bytes()[..], message].concat())
            }
        }
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Framing::None => "none",
            Framing::Line => "line",
            Framing::Len16 => "len16",
        })
    }
}

impl FromStr for Framing {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" | "off" => Ok(Framing::None),
            "line" => Ok(Framing::Line),
            "len16" => Ok(Framing::Len16),
            _ => Err(format!(
                "unknown framing '{s}' (expected none, line or len16)"
            )),
        }
    }
}

/// Why a message could not be framed, or a stream could not be cut into frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a line-framed message cannot hold a newline of its own")]
    NewlineInLine,
    #[error("a frame holds at most {MAX_FRAME} bytes")]
    TooLong,
}

/// The server's side: reads in, whole frames out, holding at most one frame.
#[derive(Debug, Default)]
pub struct Deframer {
    pending: Vec<u8>,
    /// Reads that brought bytes of the frame being collected.
    reads: usize,
}

/// One whole frame, and how many reads it took to arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The frame as it came, delimiter or prefix included: what is echoed.
    pub bytes: Vec<u8>,
    pub reads: usize,
}

impl Deframer {
    /// Takes one read; returns the frames it completed, in order. `Err` when the stream
    /// cannot be framed within [`MAX_FRAME`] bytes: the connection must close.
    pub fn push(&mut self, framing: Framing, read: &[u8]) -> Result<Vec<Frame>, FrameError> {
        self.pending.extend_from_slice(read);
        self.reads += 1;
        let mut frames = Vec::new();
        while let Some(len) = self.next_frame_len(framing)? {
            let bytes: Vec<u8> = self.pending.drain(..len).collect();
            frames.push(Frame {
                bytes,
                reads: self.reads,
            });
            // Bytes left over already came with the read that completed this frame.
            self.reads = usize::from(!self.pending.is_empty());
        }
        if self.pending.len() > MAX_FRAME {
            return Err(FrameError::TooLong);
        }
        Ok(frames)
    }

    /// The length of the first whole frame pending, if there is one.
    fn next_frame_len(&self, framing: Framing) -> Result<Option<usize>, FrameError> {
        Ok(match framing {
            Framing::None => (!self.pending.is_empty()).then_some(self.pending.len()),
            Framing::Line => self.pending.iter().position(|&b| b == b'\n').map(|i| i + 1),
            Framing::Len16 => match self.pending.get(..2) {
                Some(&[high, low]) => {
                    let len = 2 + usize::from(u16::from_be_bytes([high, low]));
                    (self.pending.len() >= len).then_some(len)
                }
                _ => None,
            },
        })
    }

    /// Bytes received that no whole frame holds yet.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_framed_as_the_protocol_says() {
        assert_eq!(Framing::Line.frame(b"hi").unwrap(), b"hi\n");
        assert_eq!(Framing::Len16.frame(b"hi").unwrap(), b"\x00\x02hi");
        assert_eq!(Framing::None.frame(b"hi").unwrap(), b"hi");
        assert_eq!(Framing::Line.frame(b"a\nb"), Err(FrameError::NewlineInLine));
        assert_eq!(
            Framing::Len16.frame(&vec![0; 70_000]),
            Err(FrameError::TooLong)
        );
    }

    #[test]
    fn split_reads_are_assembled_into_whole_frames() {
        let mut deframer = Deframer::default();
        assert!(deframer.push(Framing::Line, b"Hell").unwrap().is_empty());
        assert!(deframer.push(Framing::Line, b"o, Wor").unwrap().is_empty());
        let frames = deframer.push(Framing::Line, b"ld!\nsecond\nthi").unwrap();
        assert_eq!(
            frames,
            [
                Frame {
                    bytes: b"Hello, World!\n".to_vec(),
                    reads: 3
                },
                Frame {
                    bytes: b"second\n".to_vec(),
                    reads: 1
                }
            ]
        );
        assert_eq!(deframer.pending(), 3);
    }

    #[test]
    fn length_prefixed_frames_wait_for_their_length() {
        let mut deframer = Deframer::default();
        assert!(deframer.push(Framing::Len16, b"\x00").unwrap().is_empty());
        assert!(deframer.push(Framing::Len16, b"\x03ab").unwrap().is_empty());
        let frames = deframer.push(Framing::Len16, b"c\x00\x00").unwrap();
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert_eq!(frames[0].bytes, b"\x00\x03abc");
        assert_eq!(frames[1].bytes, b"\x00\x00", "an empty message is a frame");
    }

    #[test]
    fn a_frame_that_never_ends_is_refused_not_buffered() {
        let mut deframer = Deframer::default();
        let mut result = Ok(Vec::new());
        for _ in 0..100 {
            result = deframer.push(Framing::Line, &[b'x'; 1024]);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(FrameError::TooLong));
        assert!(deframer.pending() <= MAX_FRAME + 1024);
    }

    #[test]
    fn names_parse_and_print() {
        for framing in [Framing::None, Framing::Line, Framing::Len16] {
            assert_eq!(framing.to_string().parse(), Ok(framing));
        }
        assert!("xml".parse::<Framing>().is_err());
    }
}
