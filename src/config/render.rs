//! `echotui config`: the configuration in force as a config file, each key with its help and
//! where its value came from, so it can be saved and edited.

use clap::parser::ValueSource;
use clap::{Arg, ArgMatches};

use super::{FileValues, KEYS, Key, Kind};

/// The effective configuration as commented TOML. `matches` is this invocation's; the server
/// limits belong to `serve`, so they are read from a parse of `echotui serve` with the same
/// environment and file.
pub(super) fn effective(
    command: &clap::Command,
    matches: &ArgMatches,
    file: &FileValues,
) -> String {
    let serve = command
        .clone()
        .try_get_matches_from(["echotui", "serve"])
        .unwrap_or_else(|err| super::exit(err));
    let serve_matches = serve.subcommand_matches("serve").unwrap_or(&serve);
    let file_name = match &file.path {
        Some(path) => path.display().to_string(),
        None => super::default_path().map_or("echotui/config.toml".to_owned(), |p| {
            p.display().to_string()
        }),
    };
    let mut out = format!(
        "# echotui configuration: the values in force now, and where each came from.\n\
         # Save it as {file_name} (or pass --config FILE) and edit it;\n\
         # every key is optional. Precedence: command line > environment (ECHOTUI_…) >\n\
         # this file > built-in defaults.\n"
    );
    let mut table = None;
    for key in KEYS {
        if key.table != table {
            table = key.table;
            if let Some(name) = table {
                out += &format!("\n[{name}]\n");
            }
        }
        // A key `serve` reads is shown as `serve` sees it (`listen` has its default there).
        let (owner, matches, id) = match key.args.iter().find(|(sub, _)| sub.is_some()) {
            Some(&(_, id)) => (command.find_subcommand("serve"), serve_matches, id),
            None => (Some(command), matches, key.args[0].1),
        };
        let arg = owner.and_then(|c| c.get_arguments().find(|a| a.get_id() == id));
        out += "\n";
        out += &entry(key, arg, matches, id, file);
    }
    out
}

/// One key: its help as a comment, where the value came from, and `key = value` (commented
/// out when nothing sets it).
fn entry(
    key: &Key,
    arg: Option<&Arg>,
    matches: &ArgMatches,
    id: &str,
    file: &FileValues,
) -> String {
    let help = arg
        .and_then(|a| a.get_long_help().or(a.get_help()))
        .map(|h| h.to_string())
        .unwrap_or_default();
    let mut out = String::new();
    for line in crate::ui::wrap(&help.replace('\n', " "), 88) {
        out += &format!("# {line}\n");
    }
    let env = arg
        .and_then(Arg::get_env)
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A flag's raw value may be `1` or `yes` (from the environment): write the bool.
    let raw = match key.kind {
        Kind::Bool => matches.get_one::<bool>(id).map(bool::to_string),
        _ => matches
            .get_raw(id)
            .and_then(|mut values| values.next())
            .map(|v| v.to_string_lossy().into_owned()),
    };
    let source = match (matches.value_source(id), &raw) {
        (Some(ValueSource::CommandLine), _) => "from the command line".to_owned(),
        (Some(ValueSource::EnvVariable), _) => format!("from ${env}"),
        (Some(ValueSource::DefaultValue), _) if file.get(key).is_some() => {
            "from the config file".to_owned()
        }
        (_, Some(_)) => "built-in default".to_owned(),
        (_, None) => "not set".to_owned(),
    };
    out += &format!("# ({source})\n");
    match raw {
        Some(raw) => out += &format!("{} = {}\n", key.name, toml_value(key.kind, &raw)),
        None => out += &format!("# {} = {}\n", key.name, example(key)),
    }
    out
}

/// A value as TOML writes it: numbers and booleans bare, the rest a quoted string.
fn toml_value(kind: Kind, raw: &str) -> String {
    match kind {
        Kind::Integer | Kind::Bool => raw.to_owned(),
        Kind::Text | Kind::Path => toml::Value::String(raw.to_owned()).to_string(),
    }
}

/// What an unset key could be set to.
fn example(key: &Key) -> &'static str {
    match key.name {
        "theme" => "\"high-contrast\"",
        "lessons" => "\"lessons\"",
        _ => "\"\"",
    }
}
