//! `echotui completions SHELL` and `echotui man`: generated from the clap definition, so they
//! can never disagree with what the program accepts. The man page adds the keys, the
//! commands and the lessons, from the same tables the UI uses.

use std::io::{self, Write};

use clap::CommandFactory;
use roff::{Roff, bold, roman};

use crate::app::command::COMMANDS;
use crate::app::keymap;
use crate::cli::Cli;
use crate::lesson::Catalog;

/// Writes the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut Cli::command(), "echotui", out);
}

/// Writes the man page: clap's sections, then KEYS, COMMANDS, LESSONS and FILES.
pub fn man(lessons: &Catalog, out: &mut dyn Write) -> io::Result<()> {
    let man = clap_mangen::Man::new(Cli::command());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    let mut roff = Roff::new();
    roff.control("SH", ["KEYS"]);
    for binding in keymap::help_rows() {
        roff.control("TP", [])
            .text([bold(binding.label)])
            .text([roman(binding.help)]);
    }
    roff.control("SH", ["COMMANDS"]);
    roff.text([roman(
        "Typed on the message line, then Enter. A line that does not start with / is sent as a message; \
         \\n \\r \\t \\0 \\\\ \\xNN \\u{XXXX} in it send those bytes.",
    )]);
    for spec in COMMANDS {
        roff.control("TP", [])
            .text([bold(spec.usage)])
            .text([roman(spec.help)]);
    }
    roff.control("SH", ["LESSONS"]);
    roff.text([roman(
        "echotui lesson NAME opens one; Right or PgDn runs the next step, Left or PgUp goes back. \
         --lessons DIR adds a folder of NAME.toml files.",
    )]);
    for lesson in lessons.lessons() {
        let steps = crate::units::count(lesson.steps.len() as u64, "step", "steps");
        roff.control("TP", [])
            .text([bold(lesson.name.as_str())])
            .text([roman(format!(
                "{} ({steps}): {}",
                lesson.title, lesson.learn
            ))]);
    }
    roff.control("SH", ["FILES"]);
    let path = crate::config::default_path()
        .map_or("echotui/config.toml in the config folder".to_owned(), |p| {
            p.display().to_string()
        });
    roff.control("TP", []).text([bold(path)]).text([roman(
        "The config file: defaults for the options (echotui config prints one). \
         Precedence: command line, then ECHOTUI_... environment variables, then the file.",
    )]);
    roff.control("SH", ["ENVIRONMENT"]);
    roff.control("TP", []).text([bold("NO_COLOR")]).text([roman(
        "When set, no colour in any theme: state is written in words.",
    )]);
    roff.to_writer(out)?;
    man.render_version_section(out)?;
    man.render_authors_section(out)
}
