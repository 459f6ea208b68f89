//! A socket another task may ask the kernel about, without keeping a bare descriptor number
//! that could name another file once the socket is closed.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex};

use super::{AcceptQueue, Sampled, Unavailable};
use crate::net::lock;

/// A duplicate of the socket a task is using, for someone else (the UI) to ask about.
///
/// A duplicate keeps the socket open until every copy is closed: a connection closed late
/// sends its FIN or RST late, a listener closed late keeps its port bound. So the task holding
/// the socket [`SharedSocket::clear`]s this (or drops the [`Holding`] guard) just before it
/// lets the socket go: the duplicate never outlives the owner's use.
#[derive(Debug, Clone, Default)]
pub struct SharedSocket {
    socket: Arc<Mutex<Option<OwnedFd>>>,
}

/// Clears a [`SharedSocket`] when dropped: held by whoever drops the socket last.
#[derive(Debug)]
pub struct Holding(SharedSocket);

impl Drop for Holding {
    fn drop(&mut self) {
        self.0.clear();
    }
}

impl SharedSocket {
    /// Shares `socket` (a duplicate of it) until the guard is dropped. When the system cannot
    /// duplicate it, there is simply nothing to ask.
    pub fn hold(&self, socket: BorrowedFd<'_>) -> Holding {
        *lock(&self.socket) = socket.try_clone_to_owned().ok();
        Holding(self.clone())
    }

    /// Lets the duplicate go.
    pub fn clear(&self) {
        lock(&self.socket).take();
    }

    /// Asks the kernel about the socket, if there is one now.
    pub fn sample(&self) -> Sampled {
        self.ask(super::sample)
    }

    /// Asks the kernel about the accept queue, if the socket is a listener there now.
    pub fn accept_queue(&self) -> Result<AcceptQueue, Unavailable> {
        self.ask(super::accept_queue)
    }

    /// Puts `question` to the socket, if there is one now.
    fn ask<T>(
        &self,
        question: impl FnOnce(BorrowedFd<'_>) -> Result<T, Unavailable>,
    ) -> Result<T, Unavailable> {
        match &*lock(&self.socket) {
            Some(socket) => question(socket.as_fd()),
            None => Err(Unavailable::NoSocket),
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_duplicate_goes_with_the_guard_so_the_peer_sees_the_close() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let shared = SharedSocket::default();
        let holding = shared.hold(server.as_fd());
        assert!(shared.sample().is_ok());
        drop(server);
        drop(holding);
        assert_eq!(shared.sample(), Err(Unavailable::NoSocket));
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(client.read(&mut [0u8; 8]).unwrap(), 0, "FIN, not a timeout");
    }
}
