//! Pure, synchronous measurement logic shared by the UI, `ping` and `bench`.
//!
//! Nothing here does I/O or reads a clock: callers pass `Instant`s in, so every rule is a
//! plain unit test.

pub mod clock;
pub mod datagram;
pub mod probes;
pub mod rtt;
pub mod summary;

pub use clock::{Clock, ClockCount};
pub use datagram::DatagramTracker;
pub use probes::{PROBE_HEADER, ProbeReply, ProbeWindow};
pub use rtt::{EchoUpdate, MessageId, RttTracker};
pub use summary::{Bucket, RttStats, RttSummary};
