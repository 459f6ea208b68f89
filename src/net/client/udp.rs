//! The client over UDP: each message is one datagram; replies are matched by payload, and a
//! datagram without a reply within the timeout is reported lost.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::{Actor, ClientCommand, Next};
use crate::net::event::{ClientEvent, EventSink, NetEvent};
use crate::net::udp::MAX_DATAGRAM;
use crate::net::{Transport, describe, lock};
use crate::stats::DatagramTracker;

impl Actor {
    /// A UDP "connection": a socket bound to an ephemeral port and connected to the target,
    /// so the kernel filters replies from anyone else and reports ICMP errors to us.
    pub(super) async fn udp_session(&mut self) -> Next {
        self.report(ClientEvent::Connecting {
            target: self.target,
            transport: Transport::Udp,
        })
        .await;
        let socket = match crate::net::udp::connect(self.target).await {
            Ok(socket) => Arc::new(socket),
            Err(err) => {
                self.report(ClientEvent::Closed(err.close_reason())).await;
                return Next::WaitForReconnect;
            }
        };
        let local = socket.local_addr().unwrap_or(self.target);
        self.report(ClientEvent::Connected {
            local,
            peer: self.target,
            connect_time: None,
        })
        .await;
        let tracker = Arc::new(Mutex::new(DatagramTracker::new(
            self.settings.reply_timeout,
        )));
        let ended = self.shutdown.child_token();
        let reading = tokio::spawn(read_replies(
            socket.clone(),
            self.target,
            tracker.clone(),
            self.events.clone(),
            ended.clone(),
        ));
        let next = self.send_datagrams(&socket, &tracker).await;
        ended.cancel();
        // The reader only returns; a join error would mean it panicked, already reported.
        let _ = reading.await;
        next
    }

    async fn send_datagrams(
        &mut self,
        socket: &UdpSocket,
        tracker: &Mutex<DatagramTracker>,
    ) -> Next {
        loop {
            let command = match self.next_command(None).await {
                Ok(command) => command,
                Err(next) => return next,
            };
            match command {
                ClientCommand::Send { ids, bytes } => {
                    for id in ids.clone() {
                        let failure = if bytes.len() > MAX_DATAGRAM {
                            Some(format!("a datagram holds at most {MAX_DATAGRAM} bytes"))
                        } else {
                            lock(tracker).sent(id, bytes.clone(), Instant::now());
                            socket.send(&bytes).await.err().map(|err| describe(&err))
                        };
                        if let Some(reason) = failure {
                            self.report(ClientEvent::SendFailed {
                                ids: id..ids.end,
                                reason,
                            })
                            .await;
                            break;
                        }
                    }
                }
                ClientCommand::Reconnect
                | ClientCommand::SetTransport(_)
                | ClientCommand::SetTarget(_) => {}
                ClientCommand::SetNagle(on) => {
                    self.settings.nodelay = !on;
                    self.report(ClientEvent::Problem(
                        "Nagle applies to TCP only; it will be in force after /tcp".into(),
                    ))
                    .await;
                }
                ClientCommand::HalfClose | ClientCommand::Reset => {
                    self.report(ClientEvent::Problem(
                        "UDP has no connection to close or reset; /tcp first".into(),
                    ))
                    .await;
                }
            }
        }
    }
}

/// Reads replies and declares losses until `ended` is cancelled.
async fn read_replies(
    socket: Arc<UdpSocket>,
    target: SocketAddr,
    tracker: Arc<Mutex<DatagramTracker>>,
    events: EventSink,
    ended: CancellationToken,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut lost = Vec::new();
    loop {
        // Wake for the next loss deadline too; with nothing outstanding, only for replies.
        let deadline = lock(&tracker)
            .next_deadline()
            .map(tokio::time::Instant::from_std);
        let wait_for_loss = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let received = tokio::select! {
            _ = ended.cancelled() => return,
            () = wait_for_loss => None,
            received = socket.recv(&mut buf) => Some(received),
        };
        let now = Instant::now();
        let update = match received {
            Some(Ok(n)) => Some(lock(&tracker).received(&buf[..n], now)),
            // ICMP port unreachable, reported on the next receive of a connected socket.
            Some(Err(err)) => {
                let problem = format!("{target}: {}", crate::net::udp::explain_error(&err));
                events
                    .deliver(NetEvent::Client(ClientEvent::Problem(problem)))
                    .await;
                None
            }
            None => None,
        };
        lock(&tracker).expire(now, &mut lost);
        for update in update.into_iter().chain(lost.drain(..)) {
            events
                .deliver(NetEvent::Client(ClientEvent::Echo(update)))
                .await;
        }
    }
}
