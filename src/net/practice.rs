//! Practice clients (`/clients N`): a few embedded clients that each send a short numbered
//! message every second to the embedded server, so a class sees a server with company —
//! served all at once by the async model, one at a time by the iterative one while the rest
//! wait in the kernel's accept queue.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::ServerControl;

/// How often each practice client sends, and retries after its connection ended.
pub const EVERY: Duration = Duration::from_secs(1);

/// The practice clients running against one server.
#[derive(Debug)]
pub struct PracticeClients {
    target: SocketAddr,
    control: ServerControl,
    shutdown: CancellationToken,
    /// One token per running client; cancelling it stops that client.
    running: Vec<CancellationToken>,
}

impl PracticeClients {
    /// None yet, for the server at `target` (whose framing they follow) until `shutdown`.
    pub fn new(target: SocketAddr, control: ServerControl, shutdown: CancellationToken) -> Self {
        Self {
            target,
            control,
            shutdown,
            running: Vec::new(),
        }
    }

    /// Starts or stops clients until `n` run.
    pub fn set(&mut self, n: usize) {
        while self.running.len() > n {
            if let Some(stop) = self.running.pop() {
                stop.cancel();
            }
        }
        while self.running.len() < n {
            let stop = self.shutdown.child_token();
            let number = self.running.len() + 1;
            tokio::spawn(practise(
                number,
                self.target,
                self.control.clone(),
                stop.clone(),
            ));
            self.running.push(stop);
        }
    }
}

/// One practice client: connect, send `practice 3 #1`, `#2`… every second, read the echoes,
/// and connect again a second after the connection ends.
async fn practise(
    number: usize,
    target: SocketAddr,
    control: ServerControl,
    stop: CancellationToken,
) {
    let mut sent = 0u64;
    while !stop.is_cancelled() {
        let session = async {
            let mut stream = TcpStream::connect(target).await?;
            let _ = stream.set_nodelay(true);
            let mut buf = [0u8; 1024];
            let mut tick = tokio::time::interval(EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        sent += 1;
                        let message = format!("practice {number} #{sent}");
                        let framing = control.behaviour().framing;
                        // A practice message never holds a newline or 64 KiB: it frames.
                        let bytes = framing.frame(message.as_bytes()).unwrap_or_default();
                        stream.write_all(&bytes).await?;
                    }
                    read = stream.read(&mut buf) => {
                        if read? == 0 {
                            return Ok::<(), std::io::Error>(());
                        }
                    }
                }
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = session => {}
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}
