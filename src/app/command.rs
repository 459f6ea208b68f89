//! `/commands` typed on the message line, so a lesson can be typed, seen by the class, and
//! scripted. A line that does not start with `/` is a message; `//text` sends `/text`.
//!
//! One table, [`COMMANDS`], names every command with its usage, its help line and its
//! parser: parsing, the help overlay and Tab completion all read it, so they cannot disagree.

use std::time::Duration;

use crate::app::model::{LatencyView, RosterSort, ThemeName};
use crate::net::framing::Framing;
use crate::net::impair::Impairments;
use crate::net::sockinfo::Congestion;
use crate::net::{MAX_MESSAGE_SIZE, MAX_READ_SIZE, ServerCommand, Transport};
use crate::units::{Percent, parse_duration, parse_in_range, parse_rate};

/// Most messages one `/repeat` may queue: enough to show coalescing, not enough to wedge.
pub const MAX_REPEAT: usize = 1000;
/// Most practice clients (`/clients N`): a classroom's worth, not a load test.
pub const MAX_PRACTICE_CLIENTS: usize = 50;

/// What the user typed, understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// Send this line as one message (escapes not yet turned into bytes).
    Message(String),
    Command(Command),
}

/// A `/command`.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Help,
    Clear,
    Quit,
    Reconnect,
    /// Half-close: send FIN.
    Close,
    /// Abortive close: send RST.
    Reset,
    /// Send one message of N pattern bytes.
    Size(usize),
    /// Send TEXT as N separate messages, numbered `TEXT 1` … `TEXT N`.
    Repeat(usize, String),
    /// Send TEXT as one message written in pieces of N bytes, back to back.
    Split(usize, String),
    /// Change how the embedded server reads, serves or misbehaves (`/read`, `/pause`,
    /// `/resume`, `/server …`).
    Server(ServerCommand),
    /// Frame messages on the client and the embedded server alike.
    Frame(Framing),
    /// Run this many practice clients against the embedded server.
    Clients(usize),
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
    /// TCP congestion control for the client (`/congestion cubic`).
    Congestion(Congestion),
    /// List, start or leave a guided lesson.
    Lesson(LessonChoice),
    /// Draw with this colour scheme.
    Theme(ThemeName),
    /// Presenter mode on or off.
    Presenter,
}

/// What `/lesson` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LessonChoice {
    /// `/lesson`: say which lessons there are.
    List,
    /// `/lesson NAME`: open that lesson at its introduction.
    Start(String),
    /// `/lesson off`: close the narration bar.
    Off,
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

/// One entry of the command table.
#[derive(Debug)]
pub struct CommandSpec {
    /// The names that run it, without the `/`; several when they share a parser
    /// (`pause`/`resume`, `quit`/`exit`).
    pub names: &'static [&'static str],
    /// How to type it, as the help shows it.
    pub usage: &'static str,
    /// Whether anything may follow the name (`/help me` is refused, not ignored).
    pub takes_args: bool,
    pub help: &'static str,
    /// Turns the name typed and its arguments into a command, or says what is wrong.
    parse: fn(name: &str, args: &str) -> Result<Command, String>,
}

/// Every command, in the order the help shows them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        names: &["help"],
        usage: "/help",
        takes_args: false,
        help: "show keys and commands",
        parse: |_, _| Ok(Command::Help),
    },
    CommandSpec {
        names: &["clear"],
        usage: "/clear",
        takes_args: false,
        help: "clear both panes and the statistics",
        parse: |_, _| Ok(Command::Clear),
    },
    CommandSpec {
        names: &["reconnect"],
        usage: "/reconnect",
        takes_args: false,
        help: "drop the connection and connect again",
        parse: |_, _| Ok(Command::Reconnect),
    },
    CommandSpec {
        names: &["close"],
        usage: "/close",
        takes_args: false,
        help: "half-close (FIN): the rest is echoed, then closed",
        parse: |_, _| Ok(Command::Close),
    },
    CommandSpec {
        names: &["reset"],
        usage: "/reset",
        takes_args: false,
        help: "abortive close: send RST (SO_LINGER 0)",
        parse: |_, _| Ok(Command::Reset),
    },
    CommandSpec {
        names: &["size"],
        usage: "/size N",
        takes_args: true,
        help: "send one message of N bytes",
        parse: |_, args| {
            parse_in_range(args, 1, MAX_MESSAGE_SIZE)
                .map(Command::Size)
                .map_err(|e| format!("/size N: N {e}"))
        },
    },
    CommandSpec {
        names: &["repeat"],
        usage: "/repeat N TEXT",
        takes_args: true,
        help: "send TEXT 1 … TEXT N as N separate messages",
        parse: |_, args| {
            let (count, text) = args.split_once(' ').unwrap_or((args, ""));
            let count = parse_in_range(count, 1, MAX_REPEAT)
                .map_err(|e| format!("/repeat N TEXT: N {e}"))?;
            if text.is_empty() {
                return Err("/repeat N TEXT: TEXT is missing".into());
            }
            Ok(Command::Repeat(count, text.to_owned()))
        },
    },
    CommandSpec {
        names: &["split"],
        usage: "/split N TEXT",
        takes_args: true,
        help: "send TEXT as one message in writes of N bytes (meets Nagle)",
        parse: |_, args| {
            let (size, text) = args.split_once(' ').unwrap_or((args, ""));
            let size = parse_in_range(size, 1, MAX_MESSAGE_SIZE)
                .map_err(|e| format!("/split N TEXT: N {e}"))?;
            if text.is_empty() {
                return Err("/split N TEXT: TEXT is missing".into());
            }
            Ok(Command::Split(size, text.to_owned()))
        },
    },
    CommandSpec {
        names: &["read"],
        usage: "/read N",
        takes_args: true,
        help: "the server reads N bytes per read()",
        parse: |_, args| {
            parse_in_range(args, 1, MAX_READ_SIZE)
                .map(|n| Command::Server(ServerCommand::SetReadSize(n)))
                .map_err(|e| format!("/read N: N {e}"))
        },
    },
    CommandSpec {
        names: &["pause", "resume"],
        usage: "/pause, /resume",
        takes_args: false,
        help: "stop / restart the server's reading",
        parse: |name, _| {
            Ok(Command::Server(if name == "pause" {
                ServerCommand::Pause
            } else {
                ServerCommand::Resume
            }))
        },
    },
    CommandSpec {
        names: &["server"],
        usage: "/server SETTING VALUE",
        takes_args: true,
        help: "model iterative|threads|async; chunks N, think D, greeting TEXT, \
               close-after B, reset-after B (each also off)",
        parse: |_, args| parse_server(args).map(Command::Server),
    },
    CommandSpec {
        names: &["frame"],
        usage: "/frame none|line|len16",
        takes_args: true,
        help: "frame messages: client and server agree on boundaries",
        parse: |_, args| {
            args.parse()
                .map(Command::Frame)
                .map_err(|e| format!("/frame none|line|len16: {e}"))
        },
    },
    CommandSpec {
        names: &["clients"],
        usage: "/clients N",
        takes_args: true,
        help: "N practice clients (0..=50) send a message a second",
        parse: |_, args| {
            parse_in_range(args, 0, MAX_PRACTICE_CLIENTS)
                .map(Command::Clients)
                .map_err(|e| format!("/clients N: N {e}"))
        },
    },
    CommandSpec {
        names: &["nagle"],
        usage: "/nagle on|off",
        takes_args: true,
        help: "Nagle's algorithm on the client",
        parse: |_, args| match args {
            "on" => Ok(Command::Nagle(true)),
            "off" => Ok(Command::Nagle(false)),
            _ => Err(format!("/nagle on|off: expected on or off (got '{args}')")),
        },
    },
    CommandSpec {
        names: &["hex"],
        usage: "/hex",
        takes_args: false,
        help: "toggle hex view of the data",
        parse: |_, _| Ok(Command::Hex),
    },
    CommandSpec {
        names: &["udp", "tcp"],
        usage: "/udp, /tcp",
        takes_args: false,
        help: "switch the client to UDP or TCP",
        parse: |name, _| {
            let transport = if name == "udp" {
                Transport::Udp
            } else {
                Transport::Tcp
            };
            Ok(Command::Transport(transport))
        },
    },
    CommandSpec {
        names: &["delay", "jitter"],
        usage: "/delay D, /jitter D",
        takes_args: true,
        help: "delay each direction (e.g. 50ms), ± jitter",
        parse: |name, args| {
            let duration = parse_duration(args).map_err(|e| format!("/{name} DURATION: {e}"))?;
            Ok(Command::Impair(if name == "delay" {
                ImpairChange::Delay(duration)
            } else {
                ImpairChange::Jitter(duration)
            }))
        },
    },
    CommandSpec {
        names: &["loss"],
        usage: "/loss P",
        takes_args: true,
        help: "drop P% of datagrams each way (e.g. 10%)",
        parse: parse_percent,
    },
    CommandSpec {
        names: &["duplicate"],
        usage: "/duplicate P",
        takes_args: true,
        help: "send P% of datagrams twice, each way",
        parse: parse_percent,
    },
    CommandSpec {
        names: &["reorder"],
        usage: "/reorder P",
        takes_args: true,
        help: "P% of datagrams skip the delay (overtake), each way",
        parse: parse_percent,
    },
    CommandSpec {
        names: &["rate"],
        usage: "/rate R",
        takes_args: true,
        help: "limit each direction to R (10kB/s, off)",
        parse: |_, args| {
            let rate = match args {
                "off" | "0" => None,
                _ => Some(parse_rate(args).map_err(|e| format!("/rate BYTES/S: {e}"))?),
            };
            Ok(Command::Impair(ImpairChange::Rate(rate)))
        },
    },
    CommandSpec {
        names: &["impair"],
        usage: "/impair off",
        takes_args: true,
        help: "a clean link again",
        parse: |_, args| match args {
            "off" => Ok(Command::Impair(ImpairChange::Off)),
            _ => Err("/impair off: the only form (set each impairment with /delay, /loss…)".into()),
        },
    },
    CommandSpec {
        names: &["sort"],
        usage: "/sort BY",
        takes_args: true,
        help: "order the server's roster by age, activity, bytes or rtt (slowest first)",
        parse: |_, args| match args {
            "age" => Ok(Command::Sort(RosterSort::Age)),
            "activity" => Ok(Command::Sort(RosterSort::Activity)),
            "bytes" => Ok(Command::Sort(RosterSort::Bytes)),
            "rtt" => Ok(Command::Sort(RosterSort::Rtt)),
            _ => Err(format!(
                "/sort BY: age, activity, bytes or rtt (got '{args}')"
            )),
        },
    },
    CommandSpec {
        names: &["chart", "hist"],
        usage: "/chart, /hist",
        takes_args: false,
        help: "latency as RTT over time, or as a histogram",
        parse: |name, _| {
            let view = if name == "chart" {
                LatencyView::Chart
            } else {
                LatencyView::Histogram
            };
            Ok(Command::View(view))
        },
    },
    CommandSpec {
        names: &["socket"],
        usage: "/socket",
        takes_args: false,
        help: "what the kernel knows about both sockets",
        parse: |_, _| Ok(Command::View(LatencyView::Socket)),
    },
    CommandSpec {
        names: &["congestion"],
        usage: "/congestion NAME",
        takes_args: true,
        help: "TCP congestion control (cubic, reno, bbr…)",
        parse: |_, args| match args {
            "" => Err("/congestion NAME: NAME is missing (cubic, reno, bbr…)".into()),
            _ => args
                .parse()
                .map(Command::Congestion)
                .map_err(|e| format!("/congestion NAME: {e}")),
        },
    },
    CommandSpec {
        names: &["lesson"],
        usage: "/lesson [NAME|off]",
        takes_args: true,
        help: "list the lessons, start one (→ or PgDn: next step, ← or PgUp: back), or leave it",
        parse: |_, args| {
            Ok(Command::Lesson(match args {
                "" => LessonChoice::List,
                "off" => LessonChoice::Off,
                name => LessonChoice::Start(name.to_owned()),
            }))
        },
    },
    CommandSpec {
        names: &["theme"],
        usage: "/theme NAME",
        takes_args: true,
        help: "colours: dark, light, high-contrast or colorblind",
        parse: |_, args| {
            args.parse()
                .map(Command::Theme)
                .map_err(|e| format!("/theme NAME: {e}"))
        },
    },
    CommandSpec {
        names: &["presenter"],
        usage: "/presenter",
        takes_args: false,
        help: "presenter mode on/off: bold, fewer columns, big numbers, remote addresses masked",
        parse: |_, _| Ok(Command::Presenter),
    },
    CommandSpec {
        names: &["quit", "exit"],
        usage: "/quit, /exit",
        takes_args: false,
        help: "quit (as Ctrl-C)",
        parse: |_, _| Ok(Command::Quit),
    },
];

/// `/server SETTING VALUE`: how the embedded server serves and misbehaves.
fn parse_server(args: &str) -> Result<ServerCommand, String> {
    let (setting, value) = args.split_once(' ').unwrap_or((args, ""));
    let value = value.trim();
    let off = value == "off";
    let bytes = |what: &str| -> Result<Option<u64>, String> {
        match off {
            true => Ok(None),
            false => parse_in_range(value, 1, u64::MAX)
                .map(Some)
                .map_err(|e| format!("/server {what} BYTES|off: BYTES {e}")),
        }
    };
    match setting {
        "model" => value
            .parse()
            .map(ServerCommand::SetModel)
            .map_err(|e| format!("/server model: {e}")),
        "chunks" => match off {
            true => Ok(ServerCommand::EchoChunks(None)),
            false => parse_in_range(value, 1, MAX_READ_SIZE)
                .map(|n| ServerCommand::EchoChunks(Some(n)))
                .map_err(|e| format!("/server chunks N|off: N {e}")),
        },
        "think" => match off {
            true => Ok(ServerCommand::Think(None)),
            false => parse_duration(value)
                .map(|d| ServerCommand::Think(Some(d)))
                .map_err(|e| format!("/server think DURATION|off: {e}")),
        },
        "greeting" if value.is_empty() => Err("/server greeting TEXT|off: TEXT is missing".into()),
        "greeting" if off => Ok(ServerCommand::Greeting(None)),
        "greeting" => crate::text::unescape(value)
            .map(|bytes| ServerCommand::Greeting(Some(bytes.into())))
            .map_err(|e| format!("/server greeting TEXT: {e}")),
        "close-after" => bytes("close-after").map(ServerCommand::CloseAfter),
        "reset-after" => bytes("reset-after").map(ServerCommand::ResetAfter),
        _ => Err(format!(
            "/server {setting}: expected model, chunks, think, greeting, close-after or reset-after"
        )),
    }
}

/// `/loss`, `/duplicate`, `/reorder`: the same percentage, a different impairment.
fn parse_percent(name: &str, args: &str) -> Result<Command, String> {
    let percent: Percent = args.parse().map_err(|e| format!("/{name} PERCENT: {e}"))?;
    Ok(Command::Impair(match name {
        "loss" => ImpairChange::Loss(percent),
        "duplicate" => ImpairChange::Duplicate(percent),
        _ => ImpairChange::Reorder(percent),
    }))
}

/// What the help shows after the table: the one form that is not a command.
pub const LITERAL_SLASH: (&str, &str) = ("//text", "send the literal text /text");

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
    if name.is_empty() {
        return Err("empty command; type /help for the list (// sends a literal /)".into());
    }
    let spec = COMMANDS
        .iter()
        .find(|spec| spec.names.contains(&name))
        .ok_or_else(|| format!("unknown command /{name}; type /help for the list"))?;
    if !spec.takes_args && !args.is_empty() {
        return Err(format!("/{name} takes no argument"));
    }
    (spec.parse)(name, args).map(Line::Command)
}

/// Command names starting with `prefix` (without the `/`), in table order.
pub fn completions(prefix: &str) -> Vec<&'static str> {
    COMMANDS
        .iter()
        .flat_map(|spec| spec.names.iter().copied())
        .filter(|name| name.starts_with(prefix))
        .collect()
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
            ("/quit", Command::Quit),
            ("/exit", Command::Quit),
            ("/size 4096", Command::Size(4096)),
            ("/repeat 20 x", Command::Repeat(20, "x".into())),
            (
                "/repeat 2 hello world",
                Command::Repeat(2, "hello world".into()),
            ),
            ("/chart", Command::View(LatencyView::Chart)),
            ("/hist", Command::View(LatencyView::Histogram)),
            ("/resume", Command::Server(ServerCommand::Resume)),
            (
                "/server model iterative",
                Command::Server(ServerCommand::SetModel(crate::net::ServerModel::Iterative)),
            ),
            (
                "/server chunks 5",
                Command::Server(ServerCommand::EchoChunks(Some(5))),
            ),
            (
                "/server think off",
                Command::Server(ServerCommand::Think(None)),
            ),
            (
                "/server greeting 220 hi\\r\\n",
                Command::Server(ServerCommand::Greeting(Some(
                    b"220 hi\r\n".as_slice().into(),
                ))),
            ),
            (
                "/server close-after 100",
                Command::Server(ServerCommand::CloseAfter(Some(100))),
            ),
            ("/frame line", Command::Frame(Framing::Line)),
            (
                "/split 5 Hello, World!",
                Command::Split(5, "Hello, World!".into()),
            ),
            ("/clients 3", Command::Clients(3)),
            ("/tcp", Command::Transport(Transport::Tcp)),
            ("/lesson", Command::Lesson(LessonChoice::List)),
            ("/lesson off", Command::Lesson(LessonChoice::Off)),
            (
                "/lesson byte-stream",
                Command::Lesson(LessonChoice::Start("byte-stream".into())),
            ),
            ("/theme light", Command::Theme(ThemeName::Light)),
            ("/presenter", Command::Presenter),
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
            ("/pause now", "/pause takes no argument"),
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
            ("/theme pink", "/theme NAME: unknown theme 'pink'"),
            ("/presenter on", "/presenter takes no argument"),
            ("/server model forking", "unknown server model 'forking'"),
            ("/server chunks 0", "/server chunks N|off: N must be"),
            ("/server sleep 5", "expected model, chunks"),
            (
                "/clients 500",
                "/clients N: N must be a whole number from 0 to 50",
            ),
            ("/frame xml", "unknown framing 'xml'"),
        ];
        for (input, expected) in cases {
            let err = parse(input).unwrap_err();
            assert!(err.contains(expected), "{input}: {err}");
        }
    }

    #[test]
    fn every_name_parses_and_no_name_is_taken_twice() {
        let mut seen = Vec::new();
        for spec in COMMANDS {
            for name in spec.names {
                assert!(!seen.contains(name), "/{name} is in the table twice");
                seen.push(*name);
                assert!(spec.usage.contains(&format!("/{name}")), "{}", spec.usage);
            }
        }
    }

    #[test]
    fn completion_lists_names_in_table_order() {
        assert_eq!(
            completions("re"),
            ["reconnect", "reset", "repeat", "read", "resume", "reorder"]
        );
        assert_eq!(completions("qu"), ["quit"]);
        assert!(completions("zz").is_empty());
    }
}
