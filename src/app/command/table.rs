//! The command table: every `/command`'s names, usage, help line and parser, in the order
//! the help shows them.

use super::args;
use super::{Command, ImpairChange, LessonChoice, MAX_PRACTICE_CLIENTS, MAX_REPEAT};
use crate::app::model::{LatencyView, RosterSort};
use crate::net::{MAX_MESSAGE_SIZE, MAX_READ_SIZE, ServerCommand, Transport};
use crate::units::{parse_duration, parse_rate};

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
    /// What it does, in one line: the help overlay's and the man page's.
    pub help: &'static str,
    /// Turns the name typed and its arguments into a command, or says what is wrong.
    pub(super) parse: fn(name: &str, args: &str) -> Result<Command, String>,
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
        parse: |_, args| args::number(args, 1, MAX_MESSAGE_SIZE, "/size N").map(Command::Size),
    },
    CommandSpec {
        names: &["repeat"],
        usage: "/repeat N TEXT",
        takes_args: true,
        help: "send TEXT 1 … TEXT N as N separate messages",
        parse: |_, args| {
            let (count, text) = args::number_and_text(args, MAX_REPEAT, "/repeat N TEXT")?;
            Ok(Command::Repeat(count, text))
        },
    },
    CommandSpec {
        names: &["split"],
        usage: "/split N TEXT",
        takes_args: true,
        help: "send TEXT as one message in writes of N bytes (meets Nagle)",
        parse: |_, args| {
            let (size, text) = args::number_and_text(args, MAX_MESSAGE_SIZE, "/split N TEXT")?;
            Ok(Command::Split(size, text))
        },
    },
    CommandSpec {
        names: &["read"],
        usage: "/read N",
        takes_args: true,
        help: "the server reads N bytes per read()",
        parse: |_, args| {
            let n = args::number(args, 1, MAX_READ_SIZE, "/read N")?;
            Ok(Command::Server(ServerCommand::SetReadSize(n)))
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
        parse: |_, args| args::server(args).map(Command::Server),
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
            args::number(args, 0, MAX_PRACTICE_CLIENTS, "/clients N").map(Command::Clients)
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
        parse: args::percent,
    },
    CommandSpec {
        names: &["duplicate"],
        usage: "/duplicate P",
        takes_args: true,
        help: "send P% of datagrams twice, each way",
        parse: args::percent,
    },
    CommandSpec {
        names: &["reorder"],
        usage: "/reorder P",
        takes_args: true,
        help: "P% of datagrams skip the delay (overtake), each way",
        parse: args::percent,
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
