//! `/commands` typed on the message line, so a lesson can be typed, seen by the class, and
//! scripted. A line that does not start with `/` is a message; `//text` sends `/text`.

use std::time::Duration;

use crate::app::model::{LatencyView, RosterSort};
use crate::net::impair::Impairments;
use crate::net::{MAX_MESSAGE_SIZE, MAX_READ_SIZE, Transport};
use crate::units::{Percent, parse_duration, parse_in_range, parse_rate};

/// Most messages one `/repeat` may queue: enough to show coalescing, not enough to wedge.
pub const MAX_REPEAT: usize = 1000;

/// What the user typed, understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// Send these bytes as one message.
    Message(String),
    Command(Command),
}

/// A `/command`.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Help,
    Clear,
    Reconnect,
    /// Half-close: send FIN.
    Close,
    /// Abortive close: send RST.
    Reset,
    /// Send one message of N pattern bytes.
    Size(usize),
    /// Send TEXT as N separate messages, back to back.
    Repeat(usize, String),
    /// Change the server's read buffer.
    Read(usize),
    /// Stop / restart the server's reading (flow control).
    Pause,
    Resume,
    /// Nagle's algorithm on (`true`) or off on the client.
    Nagle(bool),
    /// Toggle the hex view of payloads.
    Hex,
    /// Switch the client to this transport.
    Transport(Transport),
    /// Change one impairment of the link (or all, with `/impair off`).
    Impair(ImpairChange),
    /// Order the server's roster.
    Sort(RosterSort),
    /// Show this latency view (or the sparkline again, if it is already shown).
    View(LatencyView),
}

/// One change to the emulated link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ImpairChange {
    Delay(Duration),
    Jitter(Duration),
    Loss(Percent),
    Duplicate(Percent),
    Reorder(Percent),
    /// Bytes per second; `None` = unlimited.
    Rate(Option<u64>),
    Off,
}

impl ImpairChange {
    /// `impairments` with this change made.
    pub fn apply(self, mut impairments: Impairments) -> Impairments {
        match self {
            ImpairChange::Delay(d) => impairments.delay = d,
            ImpairChange::Jitter(d) => impairments.jitter = d,
            ImpairChange::Loss(p) => impairments.loss = p,
            ImpairChange::Duplicate(p) => impairments.duplicate = p,
            ImpairChange::Reorder(p) => impairments.reorder = p,
            ImpairChange::Rate(r) => impairments.rate = r,
            ImpairChange::Off => impairments = Impairments::default(),
        }
        impairments
    }
}

/// Every command with its usage and what it does; feeds the help overlay.
pub const COMMANDS: &[(&str, &str)] = &[
    ("/help", "show keys and commands"),
    ("/clear", "clear both panes and the statistics"),
    ("/reconnect", "drop the connection and connect again"),
    (
        "/close",
        "half-close (FIN): the rest is echoed, then closed",
    ),
    ("/reset", "abortive close: send RST (SO_LINGER 0)"),
    ("/size N", "send one message of N bytes"),
    ("/repeat N TEXT", "send TEXT as N separate messages"),
    ("/read N", "the server reads N bytes per read()"),
    ("/pause, /resume", "stop / restart the server's reading"),
    ("/nagle on|off", "Nagle's algorithm on the client"),
    ("/hex", "toggle hex view of the data"),
    ("/udp, /tcp", "switch the client to UDP or TCP"),
    (
        "/delay D, /jitter D",
        "delay each direction (e.g. 50ms), ± jitter",
    ),
    (
        "/loss P, /duplicate P",
        "drop / double P% of datagrams each way",
    ),
    (
        "/reorder P, /rate R",
        "reorder P% of datagrams; limit to R (10kB/s)",
    ),
    ("/impair off", "a clean link again"),
    (
        "/sort age|activity|bytes",
        "order the server's client roster",
    ),
    ("//text", "send the literal text /text"),
];

/// Parses one input line; an `Err` is the message to show the user.
pub fn parse(line: &str) -> Result<Line, String> {
    let Some(rest) = line.strip_prefix('/') else {
        return Ok(Line::Message(line.to_owned()));
    };
    if rest.starts_with('/') {
        return Ok(Line::Message(rest.to_owned()));
    }
    let (name, args) = match rest.split_once(char::is_whitespace) {
        Some((name, args)) => (name, args.trim()),
        None => (rest, ""),
    };
    let no_args = |command: Command| {
        if args.is_empty() {
            Ok(Line::Command(command))
        } else {
            Err(format!("/{name} takes no argument"))
        }
    };
    match name {
        "help" => no_args(Command::Help),
        "clear" => no_args(Command::Clear),
        "reconnect" => no_args(Command::Reconnect),
        "close" => no_args(Command::Close),
        "reset" => no_args(Command::Reset),
        "size" => parse_in_range(args, 1, MAX_MESSAGE_SIZE)
            .map(|n| Line::Command(Command::Size(n)))
            .map_err(|e| format!("/size N: N {e}")),
        "repeat" => {
            let (count, text) = args.split_once(' ').unwrap_or((args, ""));
            let count = parse_in_range(count, 1, MAX_REPEAT)
                .map_err(|e| format!("/repeat N TEXT: N {e}"))?;
            if text.is_empty() {
                return Err("/repeat N TEXT: TEXT is missing".into());
            }
            Ok(Line::Command(Command::Repeat(count, text.to_owned())))
        }
        "read" => parse_in_range(args, 1, MAX_READ_SIZE)
            .map(|n| Line::Command(Command::Read(n)))
            .map_err(|e| format!("/read N: N {e}")),
        "pause" => no_args(Command::Pause),
        "resume" => no_args(Command::Resume),
        "hex" => no_args(Command::Hex),
        "delay" | "jitter" => {
            let duration = parse_duration(args).map_err(|e| format!("/{name} DURATION: {e}"))?;
            let change = if name == "delay" {
                ImpairChange::Delay(duration)
            } else {
                ImpairChange::Jitter(duration)
            };
            Ok(Line::Command(Command::Impair(change)))
        }
        "loss" | "duplicate" | "reorder" => {
            let percent: Percent = args.parse().map_err(|e| format!("/{name} PERCENT: {e}"))?;
            Ok(Line::Command(Command::Impair(match name {
                "loss" => ImpairChange::Loss(percent),
                "duplicate" => ImpairChange::Duplicate(percent),
                _ => ImpairChange::Reorder(percent),
            })))
        }
        "rate" => {
            let rate = match args {
                "off" | "0" => None,
                _ => Some(parse_rate(args).map_err(|e| format!("/rate BYTES/S: {e}"))?),
            };
            Ok(Line::Command(Command::Impair(ImpairChange::Rate(rate))))
        }
        "impair" if args == "off" => Ok(Line::Command(Command::Impair(ImpairChange::Off))),
        "impair" => {
            Err("/impair off: the only form (set each impairment with /delay, /loss…)".into())
        }
        "sort" => match args {
            "age" => Ok(Line::Command(Command::Sort(RosterSort::Age))),
            "activity" => Ok(Line::Command(Command::Sort(RosterSort::Activity))),
            "bytes" => Ok(Line::Command(Command::Sort(RosterSort::Bytes))),
            _ => Err(format!("/sort age|activity|bytes: got '{args}'")),
        },
        "chart" => no_args(Command::View(LatencyView::Chart)),
        "hist" => no_args(Command::View(LatencyView::Histogram)),
        "udp" => no_args(Command::Transport(Transport::Udp)),
        "tcp" => no_args(Command::Transport(Transport::Tcp)),
        "nagle" => match args {
            "on" => Ok(Line::Command(Command::Nagle(true))),
            "off" => Ok(Line::Command(Command::Nagle(false))),
            _ => Err(format!("/nagle on|off: expected on or off (got '{args}')")),
        },
        "" => Err("empty command; type /help for the list (// sends a literal /)".into()),
        _ => Err(format!("unknown command /{name}; type /help for the list")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_escaped_slashes() {
        assert_eq!(
            parse("Hello, World!"),
            Ok(Line::Message("Hello, World!".into()))
        );
        assert_eq!(
            parse("//etc/passwd"),
            Ok(Line::Message("/etc/passwd".into()))
        );
        assert_eq!(
            parse(" /not a command"),
            Ok(Line::Message(" /not a command".into()))
        );
    }

    #[test]
    fn commands() {
        let cases = [
            ("/help", Command::Help),
            ("/clear", Command::Clear),
            ("/reconnect", Command::Reconnect),
            ("/close", Command::Close),
            ("/reset", Command::Reset),
            ("/size 4096", Command::Size(4096)),
            ("/repeat 20 x", Command::Repeat(20, "x".into())),
            (
                "/repeat 2 hello world",
                Command::Repeat(2, "hello world".into()),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input), Ok(Line::Command(expected)), "{input}");
        }
    }

    #[test]
    fn bad_commands_explain_themselves() {
        let cases = [
            ("/nope", "unknown command /nope"),
            ("/", "empty command"),
            ("/size", "/size N: N must be a whole number"),
            ("/size 0", "/size N: N must be a whole number from 1"),
            ("/size lots", "/size N"),
            ("/repeat 5", "TEXT is missing"),
            ("/repeat 0 x", "/repeat N TEXT: N must be"),
            ("/repeat 100000 x", "/repeat N TEXT: N must be"),
            ("/help me", "/help takes no argument"),
            (
                "/read 0",
                "/read N: N must be a whole number from 1 to 65536",
            ),
            (
                "/read 99999",
                "/read N: N must be a whole number from 1 to 65536",
            ),
            ("/nagle maybe", "expected on or off"),
            ("/loss 150%", "/loss PERCENT:"),
            ("/delay -1s", "/delay DURATION:"),
            ("/rate fast", "/rate BYTES/S:"),
            ("/impair on", "/impair off: the only form"),
        ];
        for (input, expected) in cases {
            let err = parse(input).unwrap_err();
            assert!(err.contains(expected), "{input}: {err}");
        }
    }
}
