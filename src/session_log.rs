//! `--log FILE`: a JSON Lines record of a client session (every message sent, every echo and
//! its RTT, losses, connection changes), so a lesson's measurements can be plotted afterwards.
//!
//! One line per record, each with `ts` (RFC 3339, microseconds) and `event`; message data is
//! sanitized, as everywhere else. Lines are buffered and flushed on the UI's tick and at exit.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use chrono::{Local, SecondsFormat};
use serde_json::{Value, json};

use crate::net::ClientEvent;
use crate::stats::{EchoUpdate, MessageId};
use crate::text::sanitize;
use crate::units;

/// Bytes of each message's data written to the log; the size is always exact.
const DATA_PREVIEW: usize = 256;

/// An open session record.
#[derive(Debug)]
pub struct SessionLog {
    out: BufWriter<File>,
}

impl SessionLog {
    /// Creates (or truncates) the file; the error names it.
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let file = File::create(path).map_err(|err| {
            anyhow::anyhow!(
                "cannot write the log {}: {}",
                path.display(),
                crate::net::describe(&err)
            )
        })?;
        Ok(Self {
            out: BufWriter::new(file),
        })
    }

    /// A message handed to the client.
    pub fn sent(&mut self, id: MessageId, bytes: &[u8]) {
        let data = sanitize(&bytes[..bytes.len().min(DATA_PREVIEW)]);
        self.write(json!({ "event": "sent", "id": id, "bytes": bytes.len(), "data": data }));
    }

    /// What the network said about the session: every outcome of a message (partial echoes
    /// are progress, not outcomes), every connection and every close, whoever closed it.
    pub fn client_event(&mut self, event: &ClientEvent) {
        let record = match event {
            ClientEvent::Echo(update) => return self.echo(update),
            ClientEvent::Connected {
                local,
                peer,
                connect_time,
                ..
            } => return self.connected(*local, *peer, *connect_time),
            ClientEvent::Closed(reason) => {
                json!({ "event": "closed", "reason": reason.to_string() })
            }
            ClientEvent::Queued { id, waited } => json!({
                "event": "queued", "id": id, "waited_us": units::json_micros(*waited),
            }),
            ClientEvent::SendFailed { ids, reason } => {
                for id in ids.clone() {
                    self.write(json!({ "event": "not_sent", "id": id, "reason": reason }));
                }
                return;
            }
            ClientEvent::Connecting { .. }
            | ClientEvent::UserClockEchoes(_)
            | ClientEvent::TcpState(_)
            | ClientEvent::Congestion(_)
            | ClientEvent::HalfClosed
            | ClientEvent::SendBlocked
            | ClientEvent::SendUnblocked
            | ClientEvent::Problem(_) => return,
        };
        self.write(record);
    }

    /// A connection is ready; `connect_time` is the TCP handshake (UDP has none).
    pub fn connected(
        &mut self,
        local: SocketAddr,
        peer: SocketAddr,
        connect_time: Option<Duration>,
    ) {
        self.write(json!({
            "event": "connected", "local": local.to_string(), "peer": peer.to_string(),
            "connect_us": connect_time.map(units::json_micros),
        }));
    }

    /// One message's outcome.
    pub fn echo(&mut self, update: &EchoUpdate) {
        if let Some(record) = echo_record(update) {
            self.write(record);
        }
    }

    /// The program is quitting: the messages still outstanding get their outcome here, since
    /// the network will not report them any more, then the session's close.
    pub fn quit(&mut self, outstanding: impl Iterator<Item = MessageId>) {
        for id in outstanding {
            self.echo(&EchoUpdate::Abandoned { id });
        }
        self.write(json!({ "event": "closed", "reason": "quit" }));
    }

    /// Writes what is buffered; a failure is reported once, by the caller, as an error line.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Writes `record` with `ts` (when it was written) first.
    fn write(&mut self, record: Value) {
        let ts = Local::now().to_rfc3339_opts(SecondsFormat::Micros, false);
        let mut line = serde_json::Map::new();
        line.insert("ts".into(), ts.into());
        if let Value::Object(fields) = record {
            line.extend(fields);
        }
        let record = Value::Object(line);
        // A full disk shows up at the next flush, which the caller reports.
        let _ = serde_json::to_writer(&mut self.out, &record);
        let _ = self.out.write_all(b"\n");
    }
}

/// The record of a message's outcome; `None` for progress that is not an outcome.
fn echo_record(update: &EchoUpdate) -> Option<Value> {
    Some(match update {
        EchoUpdate::Partial { .. } => return None,
        EchoUpdate::Echoed { id, rtt } => {
            json!({ "event": "echoed", "id": id, "rtt_us": units::json_micros(*rtt) })
        }
        EchoUpdate::Mismatch { id, echoed } => json!({
            "event": "mismatch", "id": id, "bytes": echoed.len(),
            "data": sanitize(&echoed[..echoed.len().min(DATA_PREVIEW)]),
        }),
        EchoUpdate::Lost { id } => json!({ "event": "lost", "id": id }),
        EchoUpdate::Abandoned { id } => json!({ "event": "abandoned", "id": id }),
        EchoUpdate::Duplicate { id } => json!({ "event": "duplicate", "id": id }),
        EchoUpdate::Unsolicited { bytes } => json!({
            "event": "unsolicited", "bytes": bytes.len(),
            "data": sanitize(&bytes[..bytes.len().min(DATA_PREVIEW)]),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_json_lines_with_sanitized_data() {
        let dir = std::env::temp_dir().join(format!("echotui-log-{}", std::process::id()));
        let mut log = SessionLog::create(&dir).unwrap();
        log.sent(1, b"hi\x1b[2J");
        log.sent(2, b"hi\x1b[2J");
        log.echo(&EchoUpdate::Echoed {
            id: 1,
            rtt: Duration::from_nanos(36_840),
        });
        log.echo(&EchoUpdate::Partial {
            id: 2,
            received: 1,
            total: 2,
        });
        log.echo(&EchoUpdate::Lost { id: 2 });
        log.flush().unwrap();
        let text = std::fs::read_to_string(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0]["event"], "sent");
        assert_eq!(lines[0]["data"], "hi\\x1b[2J");
        assert_eq!(lines[1]["id"], 2);
        assert_eq!(lines[2]["event"], "echoed");
        assert_eq!(lines[2]["rtt_us"], 36.84, "rounded to the nanosecond");
        assert_eq!(lines[3]["event"], "lost");
        assert!(lines.iter().all(|l| l["ts"].is_string()));
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn unsent_and_quit_give_each_message_its_own_line() {
        let path = std::env::temp_dir().join(format!("echotui-log-q-{}", std::process::id()));
        let mut log = SessionLog::create(&path).unwrap();
        log.client_event(&ClientEvent::SendFailed {
            ids: 3..5,
            reason: "busy".into(),
        });
        log.quit([7, 8].into_iter());
        log.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let lines: Vec<(String, Value)> = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|l| (l["event"].as_str().unwrap().to_owned(), l["id"].clone()))
            .collect();
        let expected = [
            ("not_sent", json!(3)),
            ("not_sent", json!(4)),
            ("abandoned", json!(7)),
            ("abandoned", json!(8)),
            ("closed", Value::Null),
        ];
        let expected: Vec<(String, Value)> = expected
            .into_iter()
            .map(|(e, id)| (e.to_owned(), id))
            .collect();
        assert_eq!(lines, expected);
    }
}
