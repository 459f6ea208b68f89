//! The client over UDP: each message is one datagram; replies are matched by payload, and a
//! datagram without a reply within the timeout is reported lost, at its deadline.

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Actor, ClientCommand, Ending, Message, Next};
use crate::net::event::{ClientEvent, CloseReason, EventSink, NetEvent};
use crate::net::sockinfo::congestion;
use crate::net::stamp::StampedReader;
use crate::net::udp::MAX_DATAGRAM;
use crate::net::{Transport, describe, lock};
use crate::stats::DatagramTracker;

/// What the sender and the reader of one UDP session share.
struct Shared {
    tracker: Mutex<DatagramTracker>,
    /// Rung on every send, so a reader asleep with nothing outstanding learns of the new
    /// datagram's loss deadline instead of waiting for a reply that may never come.
    sent: Notify,
}

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
        let stamped = StampedReader::new(socket.as_fd(), self.settings.clock);
        self.report(ClientEvent::Connected {
            local,
            peer: self.target,
            connect_time: None,
            clock: stamped.clock(),
        })
        .await;
        let shared = Arc::new(Shared {
            tracker: Mutex::new(DatagramTracker::new(self.settings.reply_timeout)),
            sent: Notify::new(),
        });
        let ended = self.shutdown.child_token();
        let reading = tokio::spawn(read_replies(
            socket.clone(),
            stamped,
            self.target,
            shared.clone(),
            self.events.clone(),
            ended.clone(),
        ));
        let ending = self.send_datagrams(&socket, &shared).await;
        ended.cancel();
        // The reader only returns; a join error would mean it panicked, already reported.
        let _ = reading.await;
        let mut abandoned = Vec::new();
        lock(&shared.tracker).abandon_all(&mut abandoned);
        let reason = ending.reason.unwrap_or(CloseReason::Shutdown);
        self.close(reason, abandoned).await;
        ending.next
    }

    async fn send_datagrams(&mut self, socket: &UdpSocket, shared: &Shared) -> Ending {
        loop {
            let command = match self.next_command(None).await {
                Ok(command) => command,
                Err(ending) => return ending,
            };
            match command {
                ClientCommand::Send(messages) => self.send_each(socket, shared, &messages).await,
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
                ClientCommand::SetCongestion(algorithm) => {
                    let outcome = congestion::check(algorithm).map(|()| {
                        self.settings.congestion = Some(algorithm);
                        format!("congestion control applies to TCP; {algorithm} will be in force after /tcp")
                    });
                    let words = outcome.unwrap_or_else(|problem| problem);
                    self.report(ClientEvent::Problem(words)).await;
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

    /// Sends each message as one datagram; one that cannot be sent is reported not sent with
    /// the rest of the batch (a datagram that never left has no reply to wait for).
    async fn send_each(&self, socket: &UdpSocket, shared: &Shared, messages: &[Message]) {
        for (i, message) in messages.iter().enumerate() {
            if message.bytes.len() > MAX_DATAGRAM {
                let reason = format!("a datagram holds at most {MAX_DATAGRAM} bytes");
                return self.not_sent(&messages[i..], reason).await;
            }
            // Recorded first: on loopback the reply can beat `send`'s return.
            let sent_at = Instant::now();
            lock(&shared.tracker).sent(message.id, message.bytes.clone(), sent_at);
            shared.sent.notify_one();
            if let Err(err) = socket.send(&message.bytes).await {
                lock(&shared.tracker).forget(message.id);
                return self.not_sent(&messages[i..], describe(&err)).await;
            }
            self.report_queueing(message.id, sent_at).await;
        }
    }
}

/// Reads replies and declares each loss at its deadline until `ended` is cancelled.
async fn read_replies(
    socket: Arc<UdpSocket>,
    mut stamped: StampedReader,
    target: SocketAddr,
    shared: Arc<Shared>,
    events: EventSink,
    ended: CancellationToken,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut updates = Vec::new();
    loop {
        // Wake for the next loss deadline, for a reply, or for a new datagram (whose
        // deadline may be the next one).
        let deadline = lock(&shared.tracker)
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
            () = shared.sent.notified() => None,
            received = stamped.read(&*socket, &mut buf) => Some(received),
        };
        let now = Instant::now();
        match received {
            Some(Ok((n, arrival))) => {
                let update = lock(&shared.tracker).received(&buf[..n], arrival.at());
                if matches!(update, crate::stats::EchoUpdate::Echoed { .. })
                    && stamped.clock() == crate::stats::Clock::Kernel
                    && arrival.kernel.is_none()
                {
                    let fallback = ClientEvent::UserClockEchoes(1);
                    events.deliver(NetEvent::Client(fallback)).await;
                }
                updates.push(update);
            }
            // ICMP port unreachable, reported on the next receive of a connected socket.
            Some(Err(err)) => {
                let problem = format!("{target}: {}", crate::net::udp::explain_error(&err));
                events
                    .deliver(NetEvent::Client(ClientEvent::Problem(problem)))
                    .await;
            }
            None => {}
        }
        lock(&shared.tracker).expire(now, &mut updates);
        for update in updates.drain(..) {
            events
                .deliver(NetEvent::Client(ClientEvent::Echo(update)))
                .await;
        }
    }
}
