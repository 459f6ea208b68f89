//! The messages on their way: what each carried and where its rows are, until its one
//! outcome; the bytes of them not echoed yet; and what the last settled ones carried.
//!
//! Bookkeeping only: which rows to add or change is the pane's business (`messages`).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::app::model::Payload;
use crate::app::model::log::RowId;
use crate::stats::MessageId;

/// Payloads of settled messages remembered to show what a late duplicate carried.
const RECENT_SETTLED: usize = 64;

/// A message on its way: what it carried and where its rows are.
#[derive(Debug, Clone)]
pub(super) struct SentMessage {
    pub(super) payload: Payload,
    /// Its bytes on the wire: the message, framed when framing is on.
    pub(super) wire_len: usize,
    /// Bytes of its echo received so far.
    pub(super) received: usize,
    pub(super) sent_row: RowId,
    pub(super) echo_row: Option<RowId>,
    /// How long it waited behind earlier writes before reaching the socket, if noticeably.
    pub(super) queued: Option<Duration>,
}

/// Every message sent whose outcome has not arrived yet, and the bytes in flight.
#[derive(Debug)]
pub(super) struct Outstanding {
    /// By id, so the oldest comes first.
    messages: BTreeMap<MessageId, SentMessage>,
    /// Bytes of these messages not echoed yet: grows while the server is paused.
    in_flight_bytes: u64,
    /// What the last settled messages carried, for a duplicate that arrives later.
    recently_settled: VecDeque<(MessageId, Payload)>,
}

impl Default for Outstanding {
    fn default() -> Self {
        Self {
            messages: BTreeMap::new(),
            in_flight_bytes: 0,
            recently_settled: VecDeque::with_capacity(RECENT_SETTLED),
        }
    }
}

impl Outstanding {
    /// Message `id` was handed to the client; its `→` row is `sent_row`.
    pub(super) fn insert(
        &mut self,
        id: MessageId,
        payload: Payload,
        wire_len: usize,
        sent_row: RowId,
    ) {
        self.in_flight_bytes += wire_len as u64;
        let message = SentMessage {
            payload,
            wire_len,
            received: 0,
            sent_row,
            echo_row: None,
            queued: None,
        };
        self.messages.insert(id, message);
    }

    /// How many messages wait for their outcome.
    pub(super) fn len(&self) -> usize {
        self.messages.len()
    }

    /// Bytes sent and not echoed yet.
    pub(super) fn in_flight_bytes(&self) -> u64 {
        self.in_flight_bytes
    }

    /// Their ids, oldest first.
    pub(super) fn ids(&self) -> impl Iterator<Item = MessageId> + '_ {
        self.messages.keys().copied()
    }

    /// Message `id` waited this long behind earlier writes before it reached the socket.
    pub(super) fn queued(&mut self, id: MessageId, waited: Duration) {
        if let Some(message) = self.messages.get_mut(&id) {
            message.queued = Some(waited);
        }
    }

    /// `received` bytes of message `id`'s echo are back (in all, not since the last time);
    /// `None` if it has already settled.
    pub(super) fn received(&mut self, id: MessageId, received: usize) -> Option<&mut SentMessage> {
        let message = self.messages.get_mut(&id)?;
        self.in_flight_bytes -= (received - message.received) as u64;
        message.received = received;
        Some(message)
    }

    /// Message `id` has its outcome: it is no longer on its way, and what it carried is
    /// remembered a while. `None` if it had settled already (an outcome comes once).
    pub(super) fn settle(&mut self, id: MessageId) -> Option<SentMessage> {
        let message = self.messages.remove(&id)?;
        self.in_flight_bytes -= (message.wire_len - message.received) as u64;
        if self.recently_settled.len() == RECENT_SETTLED {
            self.recently_settled.pop_front();
        }
        self.recently_settled
            .push_back((id, message.payload.clone()));
        Some(message)
    }

    /// What message `id` carried, if it settled recently.
    pub(super) fn settled_payload(&self, id: MessageId) -> Option<&Payload> {
        self.recently_settled
            .iter()
            .find(|(settled, _)| *settled == id)
            .map(|(_, payload)| payload)
    }
}
