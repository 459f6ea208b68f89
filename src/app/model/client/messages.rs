//! Each message's life on the pane: its `→` row when sent, its `←` row counting up as the
//! echo comes back, and its one outcome, counted and shown.

use std::ops::Range;

use chrono::{DateTime, Local};

use super::{ClientPane, ClientRow, ClientRowKind, EchoProgress, RECENT_RTTS};
use crate::app::model::Payload;
use crate::stats::{EchoUpdate, MessageId};

impl ClientPane {
    /// Records messages handed to the client (id, what the message says, its bytes on the
    /// wire), one `→` row each.
    pub fn sent(
        &mut self,
        messages: impl IntoIterator<Item = (MessageId, Payload, usize)>,
        at: DateTime<Local>,
    ) {
        for (id, payload, wire_len) in messages {
            self.counts.sent += 1;
            let sent_row = self.rows.push(ClientRow {
                at,
                kind: ClientRowKind::Sent {
                    id,
                    payload: payload.clone(),
                    outcome: None,
                },
            });
            self.outstanding.insert(id, payload, wire_len, sent_row);
        }
    }

    /// Messages `ids` were never handed to the socket: one error row for them all.
    pub(super) fn not_sent(&mut self, ids: Range<MessageId>, reason: &str, now: DateTime<Local>) {
        let which = match ids.end - ids.start {
            1 => format!("message #{}", ids.start),
            _ => format!("messages #{} to #{}", ids.start, ids.end - 1),
        };
        for id in ids {
            self.settle(id, EchoProgress::NotSent, now);
        }
        self.note(
            now,
            ClientRowKind::Error(format!("{which} not sent: {reason}")),
        );
    }

    /// What the tracker made of the bytes that came back.
    pub(super) fn echo(&mut self, update: EchoUpdate, now: DateTime<Local>) {
        let (id, progress) = match update {
            EchoUpdate::Unsolicited { bytes } => {
                let payload = Payload::of(&bytes);
                return self.note(now, ClientRowKind::Unsolicited { payload });
            }
            EchoUpdate::Duplicate { id } => {
                self.counts.duplicates += 1;
                let payload = self.outstanding.settled_payload(id).map_or_else(
                    || Payload::of(format!("message #{id}").as_bytes()),
                    Payload::clone,
                );
                return self.note(now, ClientRowKind::Duplicate { id, payload });
            }
            EchoUpdate::Partial { id, received, .. } => (id, EchoProgress::Partial { received }),
            EchoUpdate::Echoed { id, rtt } => (id, EchoProgress::Echoed { rtt }),
            EchoUpdate::Mismatch { id, echoed } => {
                let echoed = Payload::of(&echoed);
                (id, EchoProgress::Mismatch { echoed })
            }
            EchoUpdate::Lost { id } => (id, EchoProgress::Lost),
            EchoUpdate::Abandoned { id } => (id, EchoProgress::Abandoned),
        };
        match progress {
            EchoProgress::Partial { received } => self.progress(id, received, now),
            outcome => self.settle(id, outcome, now),
        }
    }

    /// Part of message `id`'s echo is back: its echo row counts up.
    fn progress(&mut self, id: MessageId, received: usize, now: DateTime<Local>) {
        let Some(message) = self.outstanding.received(id, received) else {
            return;
        };
        let progress = EchoProgress::Partial { received };
        let row = ClientRow {
            at: now,
            kind: ClientRowKind::Echo {
                id,
                payload: message.payload.clone(),
                progress: progress.clone(),
                queued: message.queued,
            },
        };
        match message.echo_row.and_then(|row| self.rows.get_mut(row)) {
            Some(ClientRow {
                at,
                kind:
                    ClientRowKind::Echo {
                        progress: shown, ..
                    },
            }) => {
                *at = now;
                *shown = progress;
            }
            _ => message.echo_row = Some(self.rows.push(row)),
        }
    }

    /// Message `id` has its one outcome: count it, and show it on its echo row (or, when no
    /// byte came back and no echo row is due, on its sent row).
    fn settle(&mut self, id: MessageId, outcome: EchoProgress, now: DateTime<Local>) {
        let Some(message) = self.outstanding.settle(id) else {
            return;
        };
        self.count(&outcome);
        let echo_row = message.echo_row.and_then(|row| self.rows.get_mut(row));
        if let Some(ClientRow {
            at,
            kind: ClientRowKind::Echo { progress, .. },
        }) = echo_row
        {
            *at = now;
            *progress = outcome;
            return;
        }
        // Nothing came back: an abandoned or unsent message is marked where it was sent
        // (a burst cut short does not flood the pane with a row per message).
        if matches!(outcome, EchoProgress::Abandoned | EchoProgress::NotSent)
            && let Some(ClientRow {
                kind: ClientRowKind::Sent { outcome: shown, .. },
                ..
            }) = self.rows.get_mut(message.sent_row)
        {
            *shown = Some(outcome);
            return;
        }
        self.note(
            now,
            ClientRowKind::Echo {
                id,
                payload: message.payload,
                progress: outcome,
                queued: message.queued,
            },
        );
    }

    /// Counts an outcome; an echo's RTT goes into the statistics too.
    fn count(&mut self, outcome: &EchoProgress) {
        match outcome {
            EchoProgress::Echoed { rtt } => {
                self.counts.echoed += 1;
                self.stats.record(*rtt);
                if self.recent_rtts.len() == RECENT_RTTS {
                    self.recent_rtts.pop_front();
                }
                self.recent_rtts.push_back(*rtt);
                self.first_rtt.get_or_insert(*rtt);
            }
            EchoProgress::Mismatch { .. } => self.counts.mismatched += 1,
            EchoProgress::Lost => self.counts.lost += 1,
            EchoProgress::Abandoned => {
                self.counts.abandoned += 1;
                self.abandoned_here += 1;
            }
            EchoProgress::NotSent => self.counts.not_sent += 1,
            EchoProgress::Partial { .. } => {}
        }
    }
}
