//! Choosing TCP's congestion control (`--congestion`, `/congestion`): which algorithms this
//! kernel offers, and setting one on a socket (`TCP_CONGESTION`).

use std::fmt;
use std::os::fd::BorrowedFd;
use std::str::FromStr;

/// Longest algorithm name the kernel accepts (`TCP_CA_NAME_MAX` is 16 with its NUL).
const MAX_NAME: usize = 15;
/// Where Linux lists the algorithms it can use right now.
#[cfg(target_os = "linux")]
const AVAILABLE: &str = "/proc/sys/net/ipv4/tcp_available_congestion_control";

/// A congestion control algorithm's name, e.g. `cubic`: checked for shape only (which ones
/// exist is the kernel's to say). `Copy`, so client settings stay plain values.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Congestion {
    name: [u8; MAX_NAME],
    len: u8,
}

impl Congestion {
    pub fn as_str(&self) -> &str {
        // Only ASCII letters, digits and '_' are ever stored (see `from_str`).
        std::str::from_utf8(&self.name[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl FromStr for Congestion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let valid = |c: char| c.is_ascii_alphanumeric() || c == '_';
        if s.is_empty() || s.len() > MAX_NAME || !s.chars().all(valid) {
            return Err(format!(
                "'{s}' is not a congestion control name (letters, digits and _, at most {MAX_NAME})"
            ));
        }
        let mut name = [0; MAX_NAME];
        name[..s.len()].copy_from_slice(s.as_bytes());
        Ok(Self {
            name,
            len: s.len() as u8,
        })
    }
}

impl fmt::Display for Congestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Congestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Congestion({self})")
    }
}

/// The algorithms this kernel offers now (empty where there is no such list).
pub fn available() -> Vec<String> {
    #[cfg(target_os = "linux")]
    if let Ok(list) = std::fs::read_to_string(AVAILABLE) {
        return list.split_whitespace().map(str::to_owned).collect();
    }
    Vec::new()
}

/// Whether `algorithm` can be used here; the error is one sentence naming those that can.
pub fn check(algorithm: Congestion) -> Result<(), String> {
    let offered = available();
    if offered.iter().any(|name| name == algorithm.as_str()) {
        return Ok(());
    }
    Err(if offered.is_empty() {
        format!("congestion control '{algorithm}': not available on this system")
    } else {
        format!(
            "congestion control '{algorithm}' is not available; this system offers {}",
            offered.join(", ")
        )
    })
}

/// Sets `algorithm` on a TCP socket; the error is one sentence for the user.
pub fn set(socket: BorrowedFd<'_>, algorithm: Congestion) -> Result<(), String> {
    check(algorithm)?;
    #[cfg(target_os = "linux")]
    {
        use nix::sys::socket::{setsockopt, sockopt::TcpCongestion};
        setsockopt(&socket, TcpCongestion, &algorithm.as_str().into()).map_err(|errno| {
            let why = crate::net::describe(&errno.into());
            format!("cannot use congestion control '{algorithm}': {why}")
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        Err(format!(
            "congestion control '{algorithm}': not available on this system"
        ))
    }
}

/// The algorithm a TCP socket uses now.
pub fn current(socket: BorrowedFd<'_>) -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        use nix::sys::socket::{getsockopt, sockopt::TcpCongestion};
        let name = getsockopt(&socket, TcpCongestion).ok()?;
        Some(name.to_string_lossy().trim_end_matches('\0').to_owned())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_for_shape() {
        assert_eq!("cubic".parse::<Congestion>().unwrap().as_str(), "cubic");
        assert_eq!("bbr".parse::<Congestion>().unwrap().to_string(), "bbr");
        for bad in ["", "a b", "cubic;", "sixteen_letters_", "é"] {
            assert!(bad.parse::<Congestion>().is_err(), "{bad:?}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_unknown_algorithm_is_one_sentence_naming_the_available_ones() {
        let err = check("nosuchalgo".parse().unwrap()).unwrap_err();
        assert!(
            err.starts_with(
                "congestion control 'nosuchalgo' is not available; this system offers "
            ),
            "{err}"
        );
        assert!(err.contains("reno"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reno_is_always_there_and_sets_on_a_socket() {
        use std::os::fd::AsFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        set(stream.as_fd(), "reno".parse().unwrap()).unwrap();
        assert_eq!(current(stream.as_fd()).as_deref(), Some("reno"));
    }
}
