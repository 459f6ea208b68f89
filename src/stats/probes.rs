//! UDP probes matched exactly, for `ping --udp` and `bench --udp`.
//!
//! UDP may lose, duplicate or delay a datagram, and any program may send one to our port. So
//! every probe starts with a per-run nonce and its sequence number ([`PROBE_HEADER`] bytes),
//! and a [`ProbeWindow`] remembers what became of each probe. A datagram that comes back is
//! then exactly one of: the echo of a probe still awaited (an RTT, if its bytes are the ones
//! sent), a duplicate of a reply already seen, a late reply to a probe already counted lost,
//! or foreign (another run, another program). A probe unanswered for the timeout is lost.
//!
//! (The interactive client matches typed text by payload instead: [`super::DatagramTracker`].)

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Bytes at the start of every probe: a 4-byte nonce, then a 4-byte sequence number, so the
/// tutorial's 13-byte message still fits (beyond 2³² probes the numbers wrap).
pub const PROBE_HEADER: usize = 8;

/// Probes whose fate is remembered, to tell a duplicate from a late reply: one byte each, so
/// a thousand `bench` sockets keep 4 MiB at most.
const HISTORY: usize = 4096;

/// Longest a probe is awaited. A year is forever for a person, and adding it to an
/// [`Instant`] cannot overflow, whatever `--timeout` was given.
const LONGEST_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// What a datagram that came back is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeReply {
    /// The first reply to a probe still awaited, with the bytes sent: its round-trip time.
    Echoed(Duration),
    /// The first reply to a probe still awaited, with other bytes than were sent: no RTT.
    Mismatch,
    /// Another reply to a probe already answered, or to one too old to remember (which
    /// cannot be a first answer either).
    Duplicate,
    /// The first reply to a probe already counted lost.
    Late,
    /// Not a reply to this window's probes: another nonce, or too short to carry one.
    Foreign,
}

/// What became of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Awaited,
    Answered,
    Lost,
}

/// The probes of one sender: stamps each one, and classifies whatever comes back (see the
/// module docs). Pure: the caller sends, receives and reads the clock.
#[derive(Debug)]
pub struct ProbeWindow {
    nonce: u32,
    /// The probe sent last: the header, then the caller's payload.
    probe: Vec<u8>,
    timeout: Duration,
    next_seq: u32,
    /// Probes neither answered nor lost, in send order, with when each was sent.
    awaited: VecDeque<(u32, Instant)>,
    /// What became of the last [`HISTORY`] probes, oldest first: the last entry is probe
    /// `next_seq - 1`.
    fates: VecDeque<Fate>,
}

impl ProbeWindow {
    /// A window whose probes carry `nonce` (pick it at random, once per run) and `payload`
    /// after the header, and are lost when unanswered for `timeout`. The payload's first
    /// [`PROBE_HEADER`] bytes make way for the header (a shorter one is lengthened to hold it:
    /// callers check sizes before).
    pub fn new(nonce: u32, mut payload: Vec<u8>, timeout: Duration) -> Self {
        if payload.len() < PROBE_HEADER {
            payload.resize(PROBE_HEADER, 0);
        }
        Self {
            nonce,
            probe: payload,
            timeout: timeout.min(LONGEST_WAIT),
            next_seq: 0,
            awaited: VecDeque::new(),
            fates: VecDeque::new(),
        }
    }

    /// Stamps the next probe and awaits it from `at` (read the clock right before sending:
    /// the echo can be back before the send returns). Returns its sequence number and the
    /// bytes to send.
    pub fn send(&mut self, at: Instant) -> (u32, &[u8]) {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        stamp(&mut self.probe, self.nonce, seq);
        if self.fates.len() == HISTORY {
            self.fates.pop_front();
        }
        self.fates.push_back(Fate::Awaited);
        self.awaited.push_back((seq, at));
        (seq, &self.probe)
    }

    /// The probe sent last, as it was sent.
    pub fn probe(&self) -> &[u8] {
        &self.probe
    }

    /// Counts probe `seq` lost now, without waiting for the timeout: it could not be sent,
    /// or the socket reported an error for it (an ICMP port unreachable).
    pub fn lose(&mut self, seq: u32) {
        self.awaited.retain(|&(awaited, _)| awaited != seq);
        self.mark_lost(seq);
    }

    /// Classifies `datagram`, received at `at`. A probe is answered by its first reply only.
    pub fn reply(&mut self, datagram: &[u8], at: Instant) -> ProbeReply {
        let Some(seq) = seq_of(datagram, self.nonce) else {
            return ProbeReply::Foreign;
        };
        let awaited = self
            .awaited
            .iter()
            .position(|&(awaited, _)| awaited == seq)
            .and_then(|i| self.awaited.remove(i));
        let fate = self
            .fate_mut(seq)
            .map(|fate| std::mem::replace(fate, Fate::Answered));
        match (awaited, fate) {
            // The header matched already; the rest must be the payload, to the last byte
            // (every probe carries the same payload after its header).
            (Some((_, sent_at)), _)
                if datagram.get(PROBE_HEADER..) == self.probe.get(PROBE_HEADER..) =>
            {
                ProbeReply::Echoed(at.saturating_duration_since(sent_at))
            }
            (Some(_), _) => ProbeReply::Mismatch,
            (None, Some(Fate::Lost)) => ProbeReply::Late,
            // Answered already, or too old to remember. (Never `Awaited`: an awaited probe is
            // found in `awaited` above.)
            (None, Some(Fate::Answered | Fate::Awaited) | None) => ProbeReply::Duplicate,
        }
    }

    /// Counts every probe awaited for the timeout at `now` lost; returns how many just were.
    pub fn expire(&mut self, now: Instant) -> u64 {
        let mut lost = 0;
        while let Some(&(seq, sent_at)) = self.awaited.front() {
            if now.saturating_duration_since(sent_at) < self.timeout {
                break;
            }
            self.awaited.pop_front();
            self.mark_lost(seq);
            lost += 1;
        }
        lost
    }

    /// When the oldest probe still awaited will be lost, if any is awaited: when to call
    /// [`ProbeWindow::expire`] next.
    pub fn next_expiry(&self) -> Option<Instant> {
        let &(_, sent_at) = self.awaited.front()?;
        Some(sent_at + self.timeout)
    }

    /// Probes sent and neither answered nor lost yet.
    pub fn in_flight(&self) -> usize {
        self.awaited.len()
    }

    /// Remembers probe `seq` as lost (if it is recent enough to be remembered at all).
    fn mark_lost(&mut self, seq: u32) {
        if let Some(fate) = self.fate_mut(seq) {
            *fate = Fate::Lost;
        }
    }

    /// The fate of probe `seq`, if it is recent enough to be remembered.
    fn fate_mut(&mut self, seq: u32) -> Option<&mut Fate> {
        // 1 for the probe sent last, 2 for the one before, …
        let back = self.next_seq.wrapping_sub(seq) as usize;
        let len = self.fates.len();
        if back == 0 || back > len {
            return None;
        }
        self.fates.get_mut(len - back)
    }
}

/// Writes the nonce and sequence number at the start of a probe (the window's probe, which
/// [`ProbeWindow::new`] makes at least [`PROBE_HEADER`] bytes long: the slices are in range).
fn stamp(probe: &mut [u8], nonce: u32, seq: u32) {
    probe[..4].copy_from_slice(&nonce.to_le_bytes());
    probe[4..PROBE_HEADER].copy_from_slice(&seq.to_le_bytes());
}

/// The sequence number of a reply carrying `nonce`, if it is one of ours.
fn seq_of(reply: &[u8], nonce: u32) -> Option<u32> {
    if reply.get(..4)? != nonce.to_le_bytes() {
        return None;
    }
    Some(u32::from_le_bytes(
        reply.get(4..PROBE_HEADER)?.try_into().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: u32 = 0xdead_beef;
    const TIMEOUT: Duration = Duration::from_secs(1);

    fn window() -> ProbeWindow {
        ProbeWindow::new(NONCE, b"Hello, World!".to_vec(), TIMEOUT)
    }

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    /// Sends a probe at `at` and returns its sequence number and bytes.
    fn send(window: &mut ProbeWindow, at: Instant) -> (u32, Vec<u8>) {
        let (seq, bytes) = window.send(at);
        (seq, bytes.to_vec())
    }

    #[test]
    fn probes_carry_the_nonce_and_their_sequence_number_then_the_payload() {
        let (t0, mut window) = (Instant::now(), window());
        let (first, bytes) = send(&mut window, t0);
        assert_eq!((first, bytes.len()), (0, 13));
        assert_eq!(&bytes[..4], &NONCE.to_le_bytes());
        assert_eq!(&bytes[4..8], &0u32.to_le_bytes());
        assert_eq!(&bytes[8..], b"orld!", "the payload after the header");
        let (second, bytes) = send(&mut window, t0);
        assert_eq!(second, 1);
        assert_eq!(seq_of(&bytes, NONCE), Some(1));
        assert_eq!(window.probe(), &bytes[..], "the probe sent last");
        assert_eq!(seq_of(&bytes, 1), None, "another run's probe");
        assert_eq!(seq_of(b"short", NONCE), None);
    }

    #[test]
    fn a_payload_too_short_for_the_header_is_lengthened() {
        let mut window = ProbeWindow::new(NONCE, b"Hi".to_vec(), TIMEOUT);
        assert_eq!(window.send(Instant::now()).1.len(), PROBE_HEADER);
    }

    #[test]
    fn the_first_equal_reply_is_an_echo_with_its_rtt_and_the_next_a_duplicate() {
        let (t0, mut window) = (Instant::now(), window());
        let (_, bytes) = send(&mut window, t0);
        assert_eq!(window.in_flight(), 1);
        assert_eq!(
            window.reply(&bytes, t0 + us(87)),
            ProbeReply::Echoed(us(87))
        );
        assert_eq!(window.in_flight(), 0);
        assert_eq!(window.next_expiry(), None);
        assert_eq!(window.reply(&bytes, t0 + us(90)), ProbeReply::Duplicate);
    }

    #[test]
    fn a_reply_with_other_bytes_answers_its_probe_without_an_rtt() {
        let (t0, mut window) = (Instant::now(), window());
        let (_, mut bytes) = send(&mut window, t0);
        *bytes.last_mut().unwrap() ^= 0xff;
        assert_eq!(window.reply(&bytes, t0 + us(10)), ProbeReply::Mismatch);
        assert_eq!(window.in_flight(), 0);
        let (_, bytes) = send(&mut window, t0);
        let cut = &bytes[..bytes.len() - 1];
        assert_eq!(
            window.reply(cut, t0 + us(10)),
            ProbeReply::Mismatch,
            "cut short"
        );
    }

    #[test]
    fn replies_in_any_order_are_matched_by_sequence_number() {
        let (t0, mut window) = (Instant::now(), window());
        let sent: Vec<_> = (0..3).map(|i| send(&mut window, t0 + us(i))).collect();
        assert_eq!(window.in_flight(), 3);
        let at = t0 + us(100);
        assert_eq!(window.reply(&sent[2].1, at), ProbeReply::Echoed(us(98)));
        assert_eq!(window.reply(&sent[0].1, at), ProbeReply::Echoed(us(100)));
        assert_eq!(window.reply(&sent[1].1, at), ProbeReply::Echoed(us(99)));
        assert_eq!(window.in_flight(), 0);
    }

    #[test]
    fn foreign_datagrams_change_nothing() {
        let (t0, mut window) = (Instant::now(), window());
        let (_, bytes) = send(&mut window, t0);
        let mut other_run = bytes.clone();
        other_run[0] ^= 1;
        assert_eq!(window.reply(&other_run, t0), ProbeReply::Foreign);
        assert_eq!(window.reply(b"Hello", t0), ProbeReply::Foreign);
        assert_eq!(window.in_flight(), 1);
        assert_eq!(window.reply(&bytes, t0 + us(5)), ProbeReply::Echoed(us(5)));
    }

    #[test]
    fn probes_awaited_for_the_timeout_are_lost_oldest_first() {
        let (t0, mut window) = (Instant::now(), window());
        let (_, first) = send(&mut window, t0);
        let (_, second) = send(&mut window, t0 + us(500));
        assert_eq!(window.next_expiry(), Some(t0 + TIMEOUT));
        assert_eq!(window.expire(t0 + TIMEOUT - us(1)), 0, "not yet");
        assert_eq!(window.expire(t0 + TIMEOUT), 1, "at the timeout exactly");
        assert_eq!(window.next_expiry(), Some(t0 + us(500) + TIMEOUT));
        assert_eq!(window.in_flight(), 1);
        assert_eq!(window.reply(&first, t0 + TIMEOUT + us(1)), ProbeReply::Late);
        assert_eq!(
            window.reply(&first, t0 + TIMEOUT + us(2)),
            ProbeReply::Duplicate,
            "a probe is answered once: a second late reply is a duplicate"
        );
        assert_eq!(window.expire(t0 + TIMEOUT * 2), 1);
        assert_eq!(window.expire(t0 + TIMEOUT * 3), 0, "each is lost once");
        assert_eq!(window.reply(&second, t0 + TIMEOUT * 3), ProbeReply::Late);
    }

    #[test]
    fn a_probe_lost_at_once_is_late_if_answered() {
        let (t0, mut window) = (Instant::now(), window());
        let (seq, bytes) = send(&mut window, t0);
        window.lose(seq);
        assert_eq!((window.in_flight(), window.next_expiry()), (0, None));
        assert_eq!(window.reply(&bytes, t0 + us(3)), ProbeReply::Late);
    }

    #[test]
    fn a_huge_timeout_waits_a_year_instead_of_overflowing() {
        let t0 = Instant::now();
        let mut window = ProbeWindow::new(NONCE, vec![0; 13], Duration::MAX);
        window.send(t0);
        assert_eq!(window.next_expiry(), Some(t0 + LONGEST_WAIT));
    }

    #[test]
    fn the_history_is_bounded_and_older_replies_are_duplicates() {
        let (t0, mut window) = (Instant::now(), window());
        let (_, first) = send(&mut window, t0);
        assert_eq!(window.expire(t0 + TIMEOUT), 1);
        for _ in 0..HISTORY {
            let (seq, _) = window.send(t0 + TIMEOUT);
            window.lose(seq);
        }
        assert_eq!(window.fates.len(), HISTORY);
        assert_eq!(
            window.reply(&first, t0 + TIMEOUT * 2),
            ProbeReply::Duplicate,
            "lost, but no longer remembered: not counted late"
        );
    }
}
