//! A listening socket's accept queue: the connections the kernel has already completed (the
//! handshake is done, the client believes it is connected) and that wait for the program to
//! `accept()` them. The tutorial's one-at-a-time server makes it visible: while it serves one
//! client, every other waits here, and once the queue is full the kernel drops new SYNs, so a
//! client's `connect()` takes a retransmitted SYN (a second or more) to get in.

use std::fmt;
use std::os::fd::BorrowedFd;

use super::Unavailable;

/// How many connections wait to be accepted, and how many the kernel will keep waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptQueue {
    /// Completed connections not yet `accept()`ed.
    pub waiting: u32,
    /// `listen()`'s backlog as the kernel keeps it (capped at `net.core.somaxconn`). Linux
    /// counts the queue full only when it holds *more* than this, so `listen(1)` lets two wait.
    pub backlog: u32,
}

impl fmt::Display for AcceptQueue {
    /// `3 waiting to be accepted (backlog 128)`: the words the server pane and `serve
    /// --headless` both use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} waiting to be accepted (backlog {})",
            self.waiting, self.backlog
        )
    }
}

/// Asks the kernel about listening socket `fd`'s accept queue (Linux; elsewhere
/// [`Unavailable::NotOnThisSystem`]). A socket that is not listening is an error, not a figure.
pub fn accept_queue(fd: BorrowedFd<'_>) -> Result<AcceptQueue, Unavailable> {
    #[cfg(target_os = "linux")]
    return super::sys::accept_queue(fd).map_err(Unavailable::from);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = fd;
        Err(Unavailable::NotOnThisSystem)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::net::TcpStream;
    use std::os::fd::AsFd;
    use std::time::{Duration, Instant};

    use super::*;

    /// The queue of `listener` once it reads `waiting` (the kernel moves a connection into the
    /// queue when the client's ACK arrives, which on loopback is at once, but not promised).
    async fn once_waiting(listener: &tokio::net::TcpListener, waiting: u32) -> AcceptQueue {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let queue = accept_queue(listener.as_fd()).unwrap();
            if queue.waiting == waiting || Instant::now() > deadline {
                return queue;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn connections_not_yet_accepted_are_counted_with_the_backlog() {
        let listener = crate::net::listen_with_backlog("127.0.0.1:0".parse().unwrap(), 4).unwrap();
        let addr = listener.local_addr().unwrap();
        let empty = AcceptQueue {
            waiting: 0,
            backlog: 4,
        };
        assert_eq!(accept_queue(listener.as_fd()), Ok(empty));
        let clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let queue = once_waiting(&listener, 3).await;
        assert_eq!(
            queue,
            AcceptQueue {
                waiting: 3,
                ..empty
            }
        );
        assert_eq!(queue.to_string(), "3 waiting to be accepted (backlog 4)");
        let (served, _) = listener.accept().await.unwrap();
        assert_eq!(once_waiting(&listener, 2).await.waiting, 2);
        // A connected socket has no accept queue: its fields mean segments there.
        assert!(matches!(
            accept_queue(served.as_fd()),
            Err(Unavailable::Failed(_))
        ));
        drop(clients);
    }
}
