//! The parsers of `/command` arguments that several entries of the table share, or that are
//! too long to read inside it. Every error starts with the command's usage, so the user sees
//! how to type it right.

use super::{Command, ImpairChange};
use crate::net::{MAX_READ_SIZE, ServerCommand};
use crate::units::{Percent, parse_duration, parse_in_range};

/// `N`: a whole number from `min` to `max`.
pub(super) fn number(args: &str, min: usize, max: usize, usage: &str) -> Result<usize, String> {
    parse_in_range(args, min, max).map_err(|e| format!("{usage}: N {e}"))
}

/// `N TEXT` (`/repeat`, `/split`): a number from 1 to `max`, then the rest of the line, spaces
/// and all.
pub(super) fn number_and_text(
    args: &str,
    max: usize,
    usage: &str,
) -> Result<(usize, String), String> {
    let (n, text) = args.split_once(' ').unwrap_or((args, ""));
    let n = number(n, 1, max, usage)?;
    if text.is_empty() {
        return Err(format!("{usage}: TEXT is missing"));
    }
    Ok((n, text.to_owned()))
}

/// `/loss`, `/duplicate`, `/reorder`: the same percentage, a different impairment.
pub(super) fn percent(name: &str, args: &str) -> Result<Command, String> {
    let percent: Percent = args.parse().map_err(|e| format!("/{name} PERCENT: {e}"))?;
    Ok(Command::Impair(match name {
        "loss" => ImpairChange::Loss(percent),
        "duplicate" => ImpairChange::Duplicate(percent),
        _ => ImpairChange::Reorder(percent),
    }))
}

/// `/server SETTING VALUE`: how the embedded server serves and misbehaves.
pub(super) fn server(args: &str) -> Result<ServerCommand, String> {
    let (setting, value) = args.split_once(' ').unwrap_or((args, ""));
    let value = value.trim();
    let bytes = |what: &str, value: &str| {
        parse_in_range(value, 1, u64::MAX)
            .map_err(|e| format!("/server {what} BYTES|off: BYTES {e}"))
    };
    match setting {
        "model" => value
            .parse()
            .map(ServerCommand::SetModel)
            .map_err(|e| format!("/server model: {e}")),
        "chunks" => or_off(value, |n| {
            number(n, 1, MAX_READ_SIZE, "/server chunks N|off")
        })
        .map(ServerCommand::EchoChunks),
        "think" => or_off(value, |d| {
            parse_duration(d).map_err(|e| format!("/server think DURATION|off: {e}"))
        })
        .map(ServerCommand::Think),
        "greeting" if value.is_empty() => Err("/server greeting TEXT|off: TEXT is missing".into()),
        "greeting" => or_off(value, |text| {
            crate::text::unescape(text)
                .map(Into::into)
                .map_err(|e| format!("/server greeting TEXT: {e}"))
        })
        .map(ServerCommand::Greeting),
        "close-after" => or_off(value, |n| bytes("close-after", n)).map(ServerCommand::CloseAfter),
        "reset-after" => or_off(value, |n| bytes("reset-after", n)).map(ServerCommand::ResetAfter),
        _ => Err(format!(
            "/server {setting}: expected model, chunks, think, greeting, close-after or reset-after"
        )),
    }
}

/// `VALUE|off`: `None` for `off` (the misbehaviour stops), else what `parse` makes of it.
fn or_off<T>(
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    match value {
        "off" => Ok(None),
        _ => parse(value).map(Some),
    }
}
