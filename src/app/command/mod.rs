//! `/commands` typed on the message line, so a lesson can be typed, seen by the class, and
//! scripted. A line that does not start with `/` is a message; `//text` sends `/text`.
//!
//! One table, [`COMMANDS`], names every command with its usage, its help line and its
//! parser: parsing, the help overlay and Tab completion all read it, so they cannot disagree.
//!
//! One job per module:
//! - this one: what a line means ([`Line`], [`Command`]), finding the table's entry for a
//!   `/name` ([`parse`]) and Tab completion ([`completions`]);
//! - `table`: the table, one entry per command;
//! - `args`: the parsers of arguments that several entries share, or that are too long to
//!   read inside the table (`/server SETTING VALUE`).

mod args;
mod table;
#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::app::model::{LatencyView, RosterSort, ThemeName};
use crate::net::framing::Framing;
use crate::net::impair::Impairments;
use crate::net::sockinfo::Congestion;
use crate::net::{ServerCommand, Transport};
use crate::units::Percent;

pub use table::{COMMANDS, CommandSpec};

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
