//! The layout of a UDP probe, shared by `ping --udp` and `bench --udp`: a per-run nonce and
//! a sequence number at the start of every datagram, so a reply is matched exactly and a
//! datagram from another run (or another program) is never taken for an echo.

/// A probe starts with a 4-byte nonce and a 4-byte sequence number, so the tutorial's 13-byte
/// size still fits (beyond 2³² probes the numbers wrap).
pub const UDP_PROBE_HEADER: usize = 8;

/// Writes the nonce and sequence number at the start of a datagram.
pub fn stamp(datagram: &mut [u8], nonce: u32, seq: u32) {
    datagram[..4].copy_from_slice(&nonce.to_le_bytes());
    datagram[4..UDP_PROBE_HEADER].copy_from_slice(&seq.to_le_bytes());
}

/// The sequence number of a reply carrying `nonce`, if it is one of ours.
pub fn seq_of(reply: &[u8], nonce: u32) -> Option<u32> {
    if reply.get(..4)? != nonce.to_le_bytes() {
        return None;
    }
    Some(u32::from_le_bytes(
        reply.get(4..UDP_PROBE_HEADER)?.try_into().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_recognised_by_nonce_and_sequence() {
        let mut datagram = crate::net::probe_payload(13);
        stamp(&mut datagram, 0xdead_beef, 7);
        assert_eq!(seq_of(&datagram, 0xdead_beef), Some(7));
        assert_eq!(seq_of(&datagram, 1), None, "another run's datagram");
        assert_eq!(seq_of(b"short", 0xdead_beef), None);
    }
}
