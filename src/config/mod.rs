//! The config file: defaults for the options, for an instructor who sets up a machine once.
//!
//! Precedence is command line > environment (`ECHOTUI_…`) > file > built-in defaults. clap
//! already ranks the first two above an argument's default, so the file's values are made the
//! arguments' defaults before parsing ([`parse_command_line`]): one mechanism, no merging.
//!
//! The file is `echotui/config.toml` in the platform's config folder (`$XDG_CONFIG_HOME`, or
//! `~/.config`, on Linux), or `--config FILE` / `ECHOTUI_CONFIG`. Every key is an option's long
//! name with `_` for `-` (`read_size` for `--read-size`), the server limits in a `[limits]`
//! table. An unknown key or a bad value is an error naming the file, the line and the key.

mod render;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use toml::de::{DeTable, DeValue};

use crate::app::model::ThemeName;
use crate::cli::{self, Cli, Command};
use crate::tomlfile::{self, FileError};
use crate::units;

/// What a key's value must be in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Text,
    Bool,
    /// A path; relative ones are taken from the config file's folder.
    Path,
}

/// One key of the file and the arguments it gives a default to.
#[derive(Debug)]
struct Key {
    name: &'static str,
    /// The table it sits in (`[limits]`), if any.
    table: Option<&'static str>,
    /// `(subcommand, argument id)` pairs: the root's arguments, or `serve`'s.
    args: &'static [(Option<&'static str>, &'static str)],
    kind: Kind,
    /// The same check the argument's value parser makes, for an error that names the line.
    check: fn(&str) -> Result<(), String>,
}

const SERVE: Option<&str> = Some("serve");

/// Every key the file may hold, in the order `echotui config` prints them.
const KEYS: &[Key] = &[
    Key {
        name: "listen",
        table: None,
        args: &[(None, "listen"), (SERVE, "listen")],
        kind: Kind::Text,
        check: |s| cli::parse_listen(s).map(drop),
    },
    Key {
        name: "read_size",
        table: None,
        args: &[(None, "read_size")],
        kind: Kind::Integer,
        check: |s| cli::parse_read_size(s).map(drop),
    },
    Key {
        name: "theme",
        table: None,
        args: &[(None, "theme")],
        kind: Kind::Text,
        check: |s| s.parse::<ThemeName>().map(drop),
    },
    Key {
        name: "presenter",
        table: None,
        args: &[(None, "presenter")],
        kind: Kind::Bool,
        check: |_| Ok(()),
    },
    Key {
        name: "mask_addresses",
        table: None,
        args: &[(None, "mask_addresses")],
        kind: Kind::Bool,
        check: |_| Ok(()),
    },
    Key {
        name: "no_mouse",
        table: None,
        args: &[(None, "no_mouse")],
        kind: Kind::Bool,
        check: |_| Ok(()),
    },
    Key {
        name: "lessons",
        table: None,
        args: &[(None, "lessons")],
        kind: Kind::Path,
        check: |_| Ok(()),
    },
    Key {
        name: "max_conns",
        table: Some("limits"),
        args: &[(SERVE, "max_conns")],
        kind: Kind::Integer,
        check: |s| cli::parse_limit(s).map(drop),
    },
    Key {
        name: "max_per_ip",
        table: Some("limits"),
        args: &[(SERVE, "max_per_ip")],
        kind: Kind::Integer,
        check: |s| cli::parse_limit(s).map(drop),
    },
    Key {
        name: "idle_timeout",
        table: Some("limits"),
        args: &[(SERVE, "idle_timeout")],
        kind: Kind::Text,
        check: |s| units::parse_duration(s).map(drop),
    },
    Key {
        name: "write_stall",
        table: Some("limits"),
        args: &[(SERVE, "write_stall")],
        kind: Kind::Text,
        check: |s| units::parse_positive_duration(s).map(drop),
    },
    Key {
        name: "udp_rate",
        table: Some("limits"),
        args: &[(SERVE, "udp_rate")],
        kind: Kind::Integer,
        check: |s| cli::parse_limit(s).map(drop),
    },
];

/// The tables the file may hold.
const TABLES: &[&str] = &["limits"];

/// A config file read and checked: each key's value as the command line would write it.
#[derive(Debug, Clone, Default)]
pub struct FileValues {
    /// The file read, if there was one.
    pub path: Option<PathBuf>,
    values: Vec<(&'static Key, String)>,
}

impl FileValues {
    fn get(&self, key: &Key) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| (k.table, k.name) == (key.table, key.name))
            .map(|(_, v)| v.as_str())
    }
}

/// The default config file: `echotui/config.toml` in the platform's config folder.
pub fn default_path() -> Option<PathBuf> {
    use etcetera::BaseStrategy;
    let base = etcetera::choose_base_strategy().ok()?;
    Some(base.config_dir().join("echotui").join("config.toml"))
}

/// Which file to read: `--config FILE` (looked for before parsing, since the file decides the
/// defaults parsing uses), then `ECHOTUI_CONFIG`, then the default file if it exists. A named
/// file must exist (reading it says so); the default one may not.
fn choose_file(args: &[OsString]) -> Option<PathBuf> {
    let mut given = None;
    let mut args = args.iter().skip(1);
    while let Some(arg) = args.next() {
        let Some(arg) = arg.to_str() else { continue };
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            given = args.next().map(PathBuf::from);
        } else if let Some(path) = arg.strip_prefix("--config=") {
            given = Some(PathBuf::from(path));
        }
    }
    let from_env = std::env::var_os("ECHOTUI_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    given
        .or(from_env)
        .or_else(|| default_path().filter(|path| path.exists()))
}

/// Reads and checks the config file at `path`.
pub fn read(path: &Path) -> Result<FileValues, FileError> {
    let text = tomlfile::read(path)?;
    let folder = path.parent().unwrap_or(Path::new("."));
    let values = parse(&path.display().to_string(), &text, folder)?;
    Ok(FileValues {
        path: Some(path.to_owned()),
        values,
    })
}

/// Checks the text of a config file; `folder` is where relative paths start.
fn parse(file: &str, text: &str, folder: &Path) -> Result<Vec<(&'static Key, String)>, FileError> {
    let table = DeTable::parse(text).map_err(|err| FileError::from_toml(file, text, &err))?;
    let mut values = Vec::new();
    for (name, value) in table.get_ref() {
        match value.get_ref() {
            DeValue::Table(inner) if TABLES.contains(&name.get_ref().as_ref()) => {
                for (inner_name, value) in inner {
                    let key = find(Some(name.get_ref()), inner_name.get_ref())
                        .ok_or_else(|| unknown(file, text, inner_name))?;
                    values.push((key, value_of(key, value, file, text, folder)?));
                }
            }
            _ => {
                let key = find(None, name.get_ref()).ok_or_else(|| unknown(file, text, name))?;
                values.push((key, value_of(key, value, file, text, folder)?));
            }
        }
    }
    Ok(values)
}

fn find(table: Option<&str>, name: &str) -> Option<&'static Key> {
    KEYS.iter()
        .find(|key| key.table == table && key.name == name)
}

fn unknown(file: &str, text: &str, name: &toml::Spanned<toml::de::DeString>) -> FileError {
    let known: Vec<String> = KEYS
        .iter()
        .map(|key| match key.table {
            Some(table) => format!("{table}.{}", key.name),
            None => key.name.to_owned(),
        })
        .collect();
    let mut err = FileError::at(
        file,
        text,
        name.span(),
        format!("unknown key (keys: {})", known.join(", ")),
    );
    // The line may hold a dotted key or a table header; name the key itself.
    err.key = Some(name.get_ref().to_string());
    err
}

/// A value checked against its key, as the command line would write it.
fn value_of(
    key: &Key,
    value: &toml::Spanned<DeValue>,
    file: &str,
    text: &str,
    folder: &Path,
) -> Result<String, FileError> {
    let wrong = |what: &str| {
        let found = value.get_ref().type_str();
        FileError::at(
            file,
            text,
            value.span(),
            format!("expected {what}, found {found}"),
        )
    };
    let raw = match (key.kind, value.get_ref()) {
        (Kind::Integer, DeValue::Integer(n)) => i128::from_str_radix(n.as_str(), n.radix())
            .map(|n| n.to_string())
            .map_err(|_| wrong("a whole number"))?,
        (Kind::Integer, _) => return Err(wrong("a whole number")),
        (Kind::Bool, DeValue::Boolean(b)) => b.to_string(),
        (Kind::Bool, _) => return Err(wrong("true or false")),
        (Kind::Text, DeValue::String(s)) => s.to_string(),
        (Kind::Path, DeValue::String(s)) => folder.join(s.as_ref()).display().to_string(),
        (Kind::Text | Kind::Path, _) => return Err(wrong("a string in quotes")),
    };
    (key.check)(&raw).map_err(|why| FileError::at(file, text, value.span(), why))?;
    Ok(raw)
}

/// The clap command with the file's values as the defaults of their arguments.
fn command_with(file: &FileValues) -> clap::Command {
    let mut command = Cli::command();
    for (key, value) in &file.values {
        for &(sub, id) in key.args {
            let value = value.clone();
            command = match sub {
                None => command.mut_arg(id, |arg| arg.default_value(value)),
                Some(sub) => {
                    command.mut_subcommand(sub, |c| c.mut_arg(id, |arg| arg.default_value(value)))
                }
            };
        }
    }
    command
}

/// Parses the command line with the config file's defaults. A clap error (or `--help`)
/// exits as clap does; a config file problem is the error.
pub fn parse_command_line(args: Vec<OsString>) -> Result<Cli, FileError> {
    let file = match choose_file(&args) {
        Some(path) => read(&path)?,
        None => FileValues::default(),
    };
    let command = command_with(&file);
    let matches = command
        .clone()
        .try_get_matches_from(&args)
        .unwrap_or_else(|err| exit(err));
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| exit(err));
    cli.listen_typed = matches.value_source("listen") == Some(ValueSource::CommandLine);
    if matches!(cli.command, Some(Command::Config)) {
        cli.effective_config = render::effective(&command, &matches, &file);
    }
    Ok(cli)
}

/// Exits as clap would, but a user's mistake is one `error:` line (with the possible values
/// when clap lists them), as every other error of the program.
pub(crate) fn exit(err: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if !err.use_stderr() || err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        err.exit();
    }
    eprintln!("{}", one_line(&err.render().to_string()));
    std::process::exit(2)
}

/// clap's error text without its usage and hint lines, joined into one line.
fn one_line(text: &str) -> String {
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| {
            !line.is_empty()
                && !line.starts_with("Usage:")
                && !line.starts_with("For more information")
        })
        .collect();
    parts.join(" ")
}

#[cfg(test)]
mod tests;
