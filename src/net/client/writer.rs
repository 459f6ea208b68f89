//! The writing side of a TCP connection: the actor serves commands on a live connection,
//! stamping each message just before its bytes reach the socket, and says when flow control
//! holds a write back.

use std::os::fd::AsFd;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio_util::sync::CancellationToken;

use super::{Actor, ClientCommand, Ending, Message, Next};
use crate::net::event::{ClientEvent, CloseReason};
use crate::net::sockinfo::{self, congestion};
use crate::net::{describe, lock};
use crate::stats::RttTracker;

/// Messages sent but not yet echoed beyond which we refuse to send more (bounds memory
/// when a peer never answers).
const MAX_OUTSTANDING: usize = 10_000;
/// A write that waits this long is reported as blocked by flow control.
const BLOCKED_AFTER: Duration = Duration::from_millis(250);

impl Actor {
    /// Serves commands on a live connection until it ends; the write half is dropped (or,
    /// for a reset, forgotten) only after `ended` is cancelled, so the reader never mistakes
    /// our own FIN's consequences for the peer closing.
    pub(super) async fn write_commands(
        &mut self,
        mut writer: OwnedWriteHalf,
        tracker: &Mutex<RttTracker>,
        ended: &CancellationToken,
    ) -> Ending {
        let mut half_closed = false;
        loop {
            let command = match self.next_command(Some(ended)).await {
                Ok(command) => command,
                Err(ending) => {
                    ended.cancel();
                    return ending;
                }
            };
            match command {
                ClientCommand::Send(messages) => {
                    if let Err(ending) = self
                        .write_messages(&mut writer, tracker, ended, &messages, half_closed)
                        .await
                    {
                        ended.cancel();
                        return ending;
                    }
                }
                ClientCommand::Reconnect
                | ClientCommand::SetTransport(_)
                | ClientCommand::SetTarget(_) => {}
                ClientCommand::SetNagle(on) => {
                    self.settings.nodelay = !on;
                    if let Err(err) = writer.as_ref().set_nodelay(!on) {
                        let problem = format!("cannot change Nagle: {}", describe(&err));
                        self.report(ClientEvent::Problem(problem)).await;
                    }
                }
                ClientCommand::SetCongestion(algorithm) => {
                    let set = congestion::set(writer.as_ref().as_fd(), algorithm);
                    self.congestion_set(set.map(|()| algorithm)).await;
                }
                ClientCommand::HalfClose if !half_closed => {
                    half_closed = true;
                    match writer.shutdown().await {
                        Ok(()) => {
                            self.report(ClientEvent::HalfClosed).await;
                            // FIN_WAIT1 while our FIN waits behind unsent data (or for its
                            // ACK), FIN_WAIT2 once the peer acknowledged it.
                            if let Some(state) = sockinfo::state(writer.as_ref().as_fd()) {
                                self.report(ClientEvent::TcpState(state)).await;
                            }
                        }
                        Err(err) => {
                            ended.cancel();
                            let next = Next::WaitForReconnect;
                            return Ending::ours(next, CloseReason::from_io(&err));
                        }
                    }
                }
                ClientCommand::HalfClose => {}
                ClientCommand::Reset => {
                    // SO_LINGER 0 turns the close into an RST. Dropping the write half would
                    // send a FIN first (and the peer would see a clean EOF), so `forget` it:
                    // the socket closes, abortively, when the reader drops the read half.
                    let reason = match writer.as_ref().set_zero_linger() {
                        Ok(()) => CloseReason::ResetByUs,
                        Err(err) => CloseReason::Error(format!("cannot reset: {}", describe(&err))),
                    };
                    ended.cancel();
                    writer.forget();
                    return Ending::ours(Next::WaitForReconnect, reason);
                }
            }
        }
    }

    /// Writes each message in turn. A refusal fails that message and the rest, and the
    /// connection goes on; `Err` means the connection ended meanwhile, and every message not
    /// yet handed to the socket is reported as not sent.
    async fn write_messages(
        &self,
        writer: &mut OwnedWriteHalf,
        tracker: &Mutex<RttTracker>,
        ended: &CancellationToken,
        messages: &[Message],
        half_closed: bool,
    ) -> Result<(), Ending> {
        for (i, message) in messages.iter().enumerate() {
            let refusal = if half_closed {
                Some("the connection is half-closed (FIN sent)".to_owned())
            } else if lock(tracker).outstanding() >= MAX_OUTSTANDING {
                Some(format!(
                    "{MAX_OUTSTANDING} messages are still waiting for their echo"
                ))
            } else {
                None
            };
            if let Some(reason) = refusal {
                self.not_sent(&messages[i..], reason).await;
                return Ok(());
            }
            // Stamp and record first: the echo may come back before write_all returns. From
            // here on the message belongs to the tracker, which gives it its outcome.
            let sent_at = Instant::now();
            lock(tracker).sent(message.id, message.bytes.clone(), sent_at);
            self.report_queueing(message.id, sent_at).await;
            let piece = message.pieces.unwrap_or(message.bytes.len()).max(1);
            let mut written = Ok(());
            for bytes in message.bytes.chunks(piece) {
                written = self.write_watching_flow_control(writer, bytes, ended).await;
                if written.is_err() {
                    break;
                }
            }
            let ending = match written {
                Ok(()) => continue,
                Err(ending) => ending,
            };
            self.not_sent(&messages[i + 1..], "the connection ended".into())
                .await;
            return Err(ending);
        }
        Ok(())
    }

    /// Writes `bytes`, saying so when the write has waited [`BLOCKED_AFTER`]: the peer has
    /// stopped reading, both socket buffers are full, and TCP flow control holds us back.
    /// `Err` means the connection ended meanwhile, or this write failed and ended it.
    async fn write_watching_flow_control(
        &self,
        writer: &mut OwnedWriteHalf,
        bytes: &[u8],
        ended: &CancellationToken,
    ) -> Result<(), Ending> {
        let failed =
            |err: std::io::Error| Ending::ours(Next::WaitForReconnect, CloseReason::from_io(&err));
        let mut write = std::pin::pin!(writer.write_all(bytes));
        tokio::select! {
            _ = ended.cancelled() => return Err(Ending::theirs()),
            written = &mut write => return written.map_err(failed),
            _ = tokio::time::sleep(BLOCKED_AFTER) => {}
        }
        self.report(ClientEvent::SendBlocked).await;
        let written = tokio::select! {
            _ = ended.cancelled() => return Err(Ending::theirs()),
            written = write => written,
        };
        self.report(ClientEvent::SendUnblocked).await;
        written.map_err(failed)
    }
}
