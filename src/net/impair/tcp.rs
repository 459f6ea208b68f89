//! The TCP relay: each proxied connection is two directions, each a reader that stamps the
//! bytes with their delivery time and a writer that delivers them then, in order.
//!
//! A delay starts when the bytes reached this machine, by the kernel's receive timestamp, not
//! when the relay woke up to read them: a link's delay does not wait for a router to wake, and
//! the 30–100 µs an idle task takes to be scheduled would otherwise be added to every delay,
//! once each way.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::schedule::Schedule;
use super::{ImpairStats, Impairments, count};
use crate::net::stamp::StampedReader;
use crate::net::timer::Timer;
use crate::stats::Clock;

/// Largest chunk the TCP relay reads at once.
const TCP_CHUNK: usize = 64 * 1024;
/// Bytes one TCP direction may hold before it stops reading; the kernel's receive buffer then
/// fills and TCP flow control slows the sender, as a full router queue would.
const TCP_BUFFERED_BYTES: usize = 1024 * 1024;
/// Chunks one TCP direction may hold (many small writes cost memory too).
const TCP_BUFFERED_CHUNKS: usize = 1024;
/// Under a rate limit a TCP chunk carries at most 1/50 s of transmission time, so the bytes
/// trickle out smoothly instead of in 64 KiB bursts.
const PACING_SLICES_PER_SECOND: u64 = 50;
/// How long a proxied connection waits for the upstream to accept.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Proxied TCP connections beyond which new ones are closed at once (the server's own limit:
/// each connection may buffer 2 MiB, so the proxy needs a ceiling of its own).
const MAX_TCP_CONNECTIONS: usize = 256;
/// Pause after a failed `accept()` (EMFILE…), so a full file table does not spin the loop.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// Relays TCP connections from `listener` to `upstream`, each direction delayed and paced by
/// `impairments`, until `shutdown`; returns once every connection task has finished, so no
/// task outlives the call and the port is free again.
///
/// Loss, duplicate and reorder do not apply (see [`Impairments::tcp_ignored`]). Half-closes
/// are mirrored (a FIN is passed on after the bytes before it), and so are resets (an RST on
/// one side aborts the other).
pub async fn run_tcp(
    listener: TcpListener,
    upstream: SocketAddr,
    impairments: watch::Receiver<Impairments>,
    stats: Arc<ImpairStats>,
    shutdown: CancellationToken,
) {
    let tasks = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let client = match accepted {
            Ok((client, _)) => client,
            // EMFILE and friends are never fatal: pause, then accept again.
            Err(_) => tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(ACCEPT_PAUSE) => continue,
            },
        };
        if tasks.len() >= MAX_TCP_CONNECTIONS {
            // Dropping the stream closes it at once: the client sees a clean close.
            continue;
        }
        tasks.spawn(relay_tcp(
            client,
            upstream,
            impairments.clone(),
            stats.clone(),
            shutdown.clone(),
        ));
    }
    drop(listener);
    tasks.close();
    tasks.wait().await;
}

/// One proxied connection: connects upstream, then relays both directions until both end.
async fn relay_tcp(
    client: TcpStream,
    upstream: SocketAddr,
    impairments: watch::Receiver<Impairments>,
    stats: Arc<ImpairStats>,
    shutdown: CancellationToken,
) {
    let connecting = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream));
    let server = tokio::select! {
        _ = shutdown.cancelled() => return,
        connected = connecting => connected,
    };
    let Ok(Ok(server)) = server else {
        // The upstream refused or never answered: reset the client, the nearest thing to the
        // refusal it would have seen without us.
        let _ = client.set_zero_linger();
        return;
    };
    // Latency is what we emulate; Nagle's algorithm would add its own. Failing only means the
    // socket is already dead, which the relay finds out on its first read.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);

    // Cancelled when either side fails or resets: both connections are then aborted.
    let failed = CancellationToken::new();
    let (client_in, client_out) = client.into_split();
    let (server_in, server_out) = server.into_split();
    let both = async {
        tokio::join!(
            forward(client_in, server_out, &impairments, &stats, &failed),
            forward(server_in, client_out, &impairments, &stats, &failed),
        )
    };
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = both => {}
    }
}

/// Bytes read from one side, on their way to the other.
struct Chunk {
    bytes: Vec<u8>,
    due: Instant,
    /// This chunk's share of the direction's byte budget, returned when it is dropped.
    _room: OwnedSemaphorePermit,
}

/// One direction of a TCP relay: the reader stamps each chunk with its delivery time, the
/// writer delivers the chunks then, in order. Two halves, so reading never waits for a delay.
async fn forward(
    from: OwnedReadHalf,
    to: OwnedWriteHalf,
    impairments: &watch::Receiver<Impairments>,
    stats: &ImpairStats,
    failed: &CancellationToken,
) {
    let (chunks_in, chunks_out) = mpsc::channel(TCP_BUFFERED_CHUNKS);
    tokio::join!(
        read_chunks(from, chunks_in, impairments, stats, failed),
        deliver_chunks(chunks_out, to, failed),
    );
}

/// Reads and stamps chunks until the peer's FIN (then drops `chunks`, which tells the writer
/// to pass the FIN on) or a failure.
async fn read_chunks(
    from: OwnedReadHalf,
    chunks: mpsc::Sender<Chunk>,
    impairments: &watch::Receiver<Impairments>,
    stats: &ImpairStats,
    failed: &CancellationToken,
) {
    let room = Arc::new(Semaphore::new(TCP_BUFFERED_BYTES));
    let mut schedule = Schedule::new(fastrand::Rng::new());
    let mut stamped = StampedReader::new(from.as_ref().as_fd(), Clock::Kernel);
    let mut buf = vec![0u8; TCP_CHUNK];
    loop {
        let want = read_size(impairments.borrow().rate());
        // Room first, then read: while the queue is full we leave the bytes in the kernel,
        // whose receive window then closes and slows the sender down.
        let room = tokio::select! {
            _ = failed.cancelled() => return,
            // `want` is at most TCP_CHUNK (64 KiB), so the cast is exact.
            permit = room.clone().acquire_many_owned(want as u32) => permit,
        };
        // Acquiring fails only on a closed semaphore, and this one is never closed.
        let Ok(mut room) = room else { return };
        let read = tokio::select! {
            _ = failed.cancelled() => return,
            read = stamped.read(from.as_ref(), &mut buf[..want]) => read,
        };
        let (n, arrival) = match read {
            Ok((0, _)) => return,
            Ok(read) => read,
            Err(_) => {
                failed.cancel();
                return;
            }
        };
        let arrived = Instant::from_std(arrival.at());
        let due = schedule.due(arrived, n, &impairments.borrow(), true);
        if due > arrived {
            count(&stats.delayed);
        }
        // Keep only the permits for the bytes actually read (`n <= want`, so the split cannot
        // fail; if it did, holding all of them would merely be conservative).
        let kept = room.split(n);
        let chunk = Chunk {
            bytes: buf[..n].to_vec(),
            due,
            _room: kept.unwrap_or(room),
        };
        let sent = tokio::select! {
            _ = failed.cancelled() => return,
            sent = chunks.send(chunk) => sent,
        };
        if sent.is_err() {
            return;
        }
    }
}

/// How much to read at once: 64 KiB, or 1/50 s worth of bytes under a rate limit.
fn read_size(rate: Option<u64>) -> usize {
    rate.map_or(TCP_CHUNK, |rate| {
        usize::try_from(rate / PACING_SLICES_PER_SECOND)
            .unwrap_or(TCP_CHUNK)
            .clamp(1, TCP_CHUNK)
    })
}

/// Writes each chunk when it is due (at once if it already is); after the last one, passes
/// the FIN on. On any failure (here or in the other direction) aborts this side with an RST.
async fn deliver_chunks(
    mut chunks: mpsc::Receiver<Chunk>,
    mut to: OwnedWriteHalf,
    failed: &CancellationToken,
) {
    let mut timer = Timer::default();
    let delivered = async {
        while let Some(chunk) = chunks.recv().await {
            timer.sleep_until(chunk.due).await;
            to.write_all(&chunk.bytes).await?;
        }
        to.shutdown().await
    };
    let outcome = tokio::select! {
        // Failure first: a reader that fails cancels `failed` before it drops its end of the
        // channel, and that closed channel must not be mistaken for a FIN to pass on.
        biased;
        _ = failed.cancelled() => Err(io::ErrorKind::ConnectionAborted.into()),
        outcome = delivered => outcome,
    };
    if outcome.is_err() {
        failed.cancel();
        // Linger 0 makes the close an RST, as the failing side did. Dropping the half would
        // send a FIN first and look like a clean end, so `forget` it: the socket closes,
        // abortively, when the other direction drops the read half.
        let _ = to.as_ref().set_zero_linger();
        to.forget();
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[test]
    fn tcp_reads_at_most_a_fiftieth_of_a_second_under_a_rate() {
        assert_eq!(read_size(None), TCP_CHUNK);
        assert_eq!(read_size(Some(100_000)), 2000);
        assert_eq!(read_size(Some(10)), 1);
        assert_eq!(read_size(Some(u64::MAX)), TCP_CHUNK);
    }

    #[test]
    fn what_tcp_ignores_costs_a_chunk_no_wait() {
        let udp_only = Impairments {
            loss: "30%".parse().unwrap(),
            duplicate: "30%".parse().unwrap(),
            reorder: "30%".parse().unwrap(),
            ..Impairments::default()
        };
        let mut schedule = Schedule::new(fastrand::Rng::with_seed(862));
        let mut timer = Timer::default();
        for i in 0..100 {
            // Stamped as `read_chunks` stamps, delivered as `deliver_chunks` waits.
            let arrived = Instant::now();
            let due = schedule.due(arrived, 1000, &udp_only, true);
            assert_eq!(due, arrived, "chunk {i} scheduled later than it arrived");
            let waited = timer.sleep_until(due).now_or_never();
            assert!(waited.is_some(), "chunk {i} waited for a timer");
        }
    }
}
