//! The reading task of a TCP connection: echoes read as they arrive, each read timed by the
//! kernel where it can be, matched against the tracker the writer shares.

use std::os::fd::AsFd;
use std::sync::Mutex;

use tokio::net::tcp::OwnedReadHalf;
use tokio_util::sync::CancellationToken;

use crate::net::event::{ClientEvent, CloseReason, EventSink, NetEvent};
use crate::net::lock;
use crate::net::sockinfo::{self, Holding};
use crate::net::stamp::StampedReader;
use crate::stats::{Clock, EchoUpdate, RttTracker};

/// The reader's buffer: large enough that a flood costs few wake-ups.
const READ_BUFFER: usize = 64 * 1024;

/// The reading side of a connection: its half of the socket, read with the kernel's arrival
/// times, and the socket view's hold on the socket.
pub(super) struct Reader {
    pub(super) half: OwnedReadHalf,
    pub(super) stamped: StampedReader,
    pub(super) holding: Holding,
}

/// Reads echoes until the connection ends or `ended` is cancelled; returns why it stopped
/// (the actor reports it, unless it ended the connection itself).
pub(super) async fn read_echoes(
    reader: Reader,
    tracker: std::sync::Arc<Mutex<RttTracker>>,
    events: EventSink,
    ended: CancellationToken,
) -> CloseReason {
    // However we leave, tell the writer the connection is over.
    let _ended = ended.clone().drop_guard();
    let Reader {
        half,
        mut stamped,
        holding,
    } = reader;
    let reason = read_until_the_end(&half, &mut stamped, &tracker, &events, &ended).await;
    // The socket view lets go of the socket before our half does: the socket closes (and
    // after `/reset`, sends its RST) when the last of them goes.
    drop(holding);
    reason
}

async fn read_until_the_end(
    half: &OwnedReadHalf,
    stamped: &mut StampedReader,
    tracker: &Mutex<RttTracker>,
    events: &EventSink,
    ended: &CancellationToken,
) -> CloseReason {
    let report = |event| events.deliver(NetEvent::Client(event));
    let mut buf = vec![0u8; READ_BUFFER];
    let mut updates = Vec::new();
    loop {
        let read = tokio::select! {
            biased;
            _ = ended.cancelled() => return CloseReason::Shutdown,
            read = stamped.read(half.as_ref(), &mut buf) => read,
        };
        let arrival = match read {
            Ok((0, _)) => {
                // The peer's FIN: TIME_WAIT when ours went first, CLOSE_WAIT when not.
                if let Some(state) = sockinfo::state(half.as_ref().as_fd()) {
                    report(ClientEvent::TcpState(state)).await;
                }
                return CloseReason::PeerClosed;
            }
            Ok((n, arrival)) => {
                lock(tracker).received(&buf[..n], arrival.at(), &mut updates);
                arrival
            }
            Err(err) => return CloseReason::from_io(&err),
        };
        let echoed = updates
            .iter()
            .filter(|u| matches!(u, EchoUpdate::Echoed { .. }));
        let echoes = echoed.count() as u64;
        if echoes > 0 && stamped.clock() == Clock::Kernel && arrival.kernel.is_none() {
            report(ClientEvent::UserClockEchoes(echoes)).await;
        }
        for update in updates.drain(..) {
            report(ClientEvent::Echo(update)).await;
        }
    }
}
