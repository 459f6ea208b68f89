//! `--log FILE`: a JSON Lines record of a client session (every message sent, every echo and
//! its RTT, losses, connection changes), so a lesson's measurements can be plotted afterwards.
//!
//! One line per record, each with `ts` (RFC 3339, microseconds) and `event`; message data is
//! sanitized, as everywhere else. Lines are buffered and flushed on the UI's tick and at exit.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::ops::Range;
use std::path::Path;

use chrono::{Local, SecondsFormat};
use serde_json::{Value, json};

use crate::net::ClientEvent;
use crate::stats::{EchoUpdate, MessageId};
use crate::text::sanitize;

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

    /// Messages handed to the client: one line per id.
    pub fn sent(&mut self, ids: Range<MessageId>, bytes: &[u8]) {
        let data = sanitize(&bytes[..bytes.len().min(DATA_PREVIEW)]);
        for id in ids {
            self.write(json!({ "event": "sent", "id": id, "bytes": bytes.len(), "data": data }));
        }
    }

    /// What the network said about the session; partial echoes are left out (the final
    /// outcome of each message is recorded).
    pub fn client_event(&mut self, event: &ClientEvent) {
        let record = match event {
            ClientEvent::Echo(update) => match echo_record(update) {
                Some(record) => record,
                None => return,
            },
            ClientEvent::Connected {
                local,
                peer,
                connect_time,
            } => json!({
                "event": "connected", "local": local.to_string(), "peer": peer.to_string(),
                "connect_us": connect_time.map(|t| t.as_secs_f64() * 1e6),
            }),
            ClientEvent::Closed(reason) => {
                json!({ "event": "closed", "reason": reason.to_string() })
            }
            ClientEvent::SendFailed { ids, reason } => {
                json!({ "event": "not_sent", "ids": [ids.start, ids.end], "reason": reason })
            }
            _ => return,
        };
        self.write(record);
    }

    /// One message's outcome (for `ping`, which has no client actor).
    pub fn echo(&mut self, update: &EchoUpdate) {
        if let Some(record) = echo_record(update) {
            self.write(record);
        }
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
            json!({ "event": "echoed", "id": id, "rtt_us": rtt.as_secs_f64() * 1e6 })
        }
        EchoUpdate::Mismatch { id, echoed } => json!({
            "event": "mismatch", "id": id, "bytes": echoed.len(),
            "data": sanitize(&echoed[..echoed.len().min(DATA_PREVIEW)]),
        }),
        EchoUpdate::Lost { id } => json!({ "event": "lost", "id": id }),
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
    use std::time::Duration;

    #[test]
    fn records_are_json_lines_with_sanitized_data() {
        let dir = std::env::temp_dir().join(format!("echotui-log-{}", std::process::id()));
        let mut log = SessionLog::create(&dir).unwrap();
        log.sent(1..3, b"hi\x1b[2J");
        log.echo(&EchoUpdate::Echoed {
            id: 1,
            rtt: Duration::from_micros(87),
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
        assert_eq!(lines[2]["rtt_us"], 87.0);
        assert_eq!(lines[3]["event"], "lost");
        assert!(lines.iter().all(|l| l["ts"].is_string()));
        assert!(!text.contains('\x1b'));
    }
}
