//! The crate's only `unsafe`: `getsockopt(TCP_INFO)` (of a connection, or of a listener for
//! its accept queue) and the two socket-queue `ioctl`s, which neither `nix` nor `rustix`
//! wraps. Each call is given a live descriptor (a `BorrowedFd`, so it cannot be closed or
//! reused while we ask) and a buffer of exactly the size it says.

use std::io;
use std::mem::{MaybeUninit, offset_of, size_of};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use super::{AcceptQueue, TcpInfo, TcpState};

/// Asks the kernel for the socket's `struct tcp_info`.
///
/// A kernel older than `libc`'s struct fills only its own, shorter prefix and says how long
/// it was: every field beyond it is read as absent (`None`), never as a zero it did not give.
pub(super) fn tcp_info(fd: BorrowedFd<'_>) -> io::Result<TcpInfo> {
    let (raw, len) = raw_tcp_info(fd)?;
    from_raw(&raw, len)
}

/// A listening socket's accept queue. For a socket in `LISTEN`, Linux gives the queue's
/// length in `tcpi_unacked` and `listen()`'s backlog in `tcpi_sacked` (both fields of every
/// `tcp_info` since 2.6); for any other socket they mean segments, not connections.
pub(super) fn accept_queue(fd: BorrowedFd<'_>) -> io::Result<AcceptQueue> {
    let (raw, _) = raw_tcp_info(fd)?;
    if TcpState::from_kernel(raw.tcpi_state) != TcpState::Listen {
        return Err(io::Error::other("not a listening socket"));
    }
    Ok(AcceptQueue {
        waiting: raw.tcpi_unacked,
        backlog: raw.tcpi_sacked,
    })
}

/// `getsockopt(TCP_INFO)`: the struct, and how many of its bytes the kernel filled.
fn raw_tcp_info(fd: BorrowedFd<'_>) -> io::Result<(libc::tcp_info, usize)> {
    let mut raw = MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `fd` is open for the borrow's lifetime; `raw` is writable for `len` bytes, and
    // the kernel writes at most `len` bytes into it and stores the length it wrote in `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            raw.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `tcp_info` is plain integers, for which all-zero bytes (what the kernel did not
    // overwrite) are a valid value.
    Ok((unsafe { raw.assume_init() }, len as usize))
}

/// Bytes waiting in the socket's receive queue (`SIOCINQ`): arrived, not yet read.
pub(super) fn receive_queue(fd: BorrowedFd<'_>) -> io::Result<u64> {
    queue(fd, libc::FIONREAD)
}

/// Bytes in the socket's send queue (`SIOCOUTQ`): written by us, not yet acknowledged.
pub(super) fn send_queue(fd: BorrowedFd<'_>) -> io::Result<u64> {
    queue(fd, libc::TIOCOUTQ)
}

fn queue(fd: BorrowedFd<'_>, request: libc::Ioctl) -> io::Result<u64> {
    let mut bytes: libc::c_int = 0;
    // SAFETY: `fd` is open for the borrow's lifetime; SIOCINQ and SIOCOUTQ write one `int`
    // to the pointer given, which points to one.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), request, &mut bytes) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::try_from(bytes).unwrap_or(0))
}

/// The part of `raw` the kernel filled (`len` bytes) in our words. Fails only when even the
/// fields every Linux since 2.6 gives are missing.
fn from_raw(raw: &libc::tcp_info, len: usize) -> io::Result<TcpInfo> {
    // Whether the kernel's struct reached the end of this field.
    macro_rules! given {
        ($field:ident) => {
            offset_of!(libc::tcp_info, $field) + size_of_val(&raw.$field) <= len
        };
    }
    macro_rules! field {
        ($field:ident) => {
            given!($field).then_some(raw.$field)
        };
    }
    if !given!(tcpi_total_retrans) {
        return Err(io::Error::other(format!(
            "the kernel's tcp_info is only {len} bytes long"
        )));
    }
    let micros = |us: u32| Duration::from_micros(us.into());
    Ok(TcpInfo {
        state: TcpState::from_kernel(raw.tcpi_state),
        rtt: micros(raw.tcpi_rtt),
        rttvar: micros(raw.tcpi_rttvar),
        min_rtt: field!(tcpi_min_rtt).map(micros),
        cwnd: raw.tcpi_snd_cwnd,
        snd_mss: raw.tcpi_snd_mss,
        pmtu: raw.tcpi_pmtu,
        unacked: raw.tcpi_unacked,
        retrans: raw.tcpi_retrans,
        total_retrans: raw.tcpi_total_retrans,
        backoff: raw.tcpi_backoff,
        bytes_acked: field!(tcpi_bytes_acked),
        bytes_received: field!(tcpi_bytes_received),
        notsent_bytes: field!(tcpi_notsent_bytes),
        delivery_rate: field!(tcpi_delivery_rate),
        peer_window: field!(tcpi_snd_wnd),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> libc::tcp_info {
        // SAFETY: plain integers; all-zero is a valid value.
        let mut raw: libc::tcp_info = unsafe { std::mem::zeroed() };
        raw.tcpi_state = 1;
        raw.tcpi_rtt = 42;
        raw.tcpi_snd_wnd = 65535;
        raw.tcpi_bytes_acked = 13;
        raw
    }

    #[test]
    fn a_shorter_struct_from_an_older_kernel_leaves_the_newer_fields_absent() {
        let raw = raw();
        let full = from_raw(&raw, size_of::<libc::tcp_info>()).unwrap();
        assert_eq!(full.peer_window, Some(65535));
        assert_eq!(full.bytes_acked, Some(13));
        // Linux 4.0's struct ended at tcpi_max_pacing_rate: no bytes_acked, no window.
        let old = offset_of!(libc::tcp_info, tcpi_bytes_acked);
        let info = from_raw(&raw, old).unwrap();
        assert_eq!(
            (info.state, info.rtt),
            (TcpState::Established, Duration::from_micros(42))
        );
        assert_eq!(
            (info.bytes_acked, info.peer_window, info.min_rtt),
            (None, None, None)
        );
    }

    #[test]
    fn a_struct_too_short_for_the_basics_is_an_error_not_a_panic() {
        assert!(from_raw(&raw(), 8).is_err());
        assert!(from_raw(&raw(), 0).is_err());
    }
}
