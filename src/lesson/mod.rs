//! Guided lessons: small TOML files (title, what the class will learn, steps) that the UI
//! narrates step by step while it types each step's lines on the message line, so the class
//! sees the command and its effect.
//!
//! The lessons in `assets/lessons/` are embedded in the binary (`builtin`); an instructor adds
//! a folder of their own with `--lessons DIR`. Every line a lesson types must parse as the
//! message line would parse it ([`crate::app::command::parse`]), so a lesson can never type a
//! command that does not exist; a broken file is an error naming the file, the line and what
//! is wrong, never a crash.

mod builtin;

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::app::command::{self, Command, Line};
use crate::text;
use crate::tomlfile::{self, FileError};

/// One lesson, checked: every line it types parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lesson {
    /// What `/lesson NAME` and `echotui lesson NAME` call it: the file name without `.toml`.
    pub name: String,
    pub title: String,
    /// What the class will learn, shown before the first step.
    pub learn: String,
    pub steps: Vec<Step>,
    /// Where it came from: `built in`, or the file's path.
    pub origin: String,
}

/// One step: what the narrator says, the lines typed, what to look for on the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub say: String,
    /// Lines typed on the message line and entered, in order (commands or messages).
    pub lines: Vec<String>,
    pub look: String,
}

/// A lesson file as written; checked into a [`Lesson`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LessonFile {
    title: Spanned<String>,
    learn: Spanned<String>,
    step: Vec<StepFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    say: Spanned<String>,
    #[serde(default, rename = "type")]
    lines: Vec<Spanned<String>>,
    look: Spanned<String>,
}

/// Lessons may hold this many steps: enough for any class, few enough to step through.
pub const MAX_STEPS: usize = 30;

/// Parses and checks one lesson file. `file` is how errors name it.
pub fn parse(name: &str, file: &str, text: &str) -> Result<Lesson, FileError> {
    if !is_valid_name(name) {
        return Err(FileError::whole(
            file,
            "a lesson's file name may hold only letters, digits, '-' and '_' (it is typed as /lesson NAME)",
        ));
    }
    let raw: LessonFile =
        toml::from_str(text).map_err(|err| FileError::from_toml(file, text, &err))?;
    let at =
        |span: std::ops::Range<usize>, message: String| FileError::at(file, text, span, message);
    let filled = |value: &Spanned<String>, what: &str| {
        if value.get_ref().trim().is_empty() {
            Err(at(value.span(), format!("{what} is empty")))
        } else {
            Ok(value.get_ref().trim().to_owned())
        }
    };
    let title = filled(&raw.title, "the title")?;
    let learn = filled(&raw.learn, "'learn' (what the class will learn)")?;
    if raw.step.is_empty() {
        return Err(FileError::whole(
            file,
            "a lesson needs at least one [[step]]",
        ));
    }
    if raw.step.len() > MAX_STEPS {
        return Err(FileError::whole(
            file,
            format!(
                "{} steps: a lesson may have {MAX_STEPS} at most",
                raw.step.len()
            ),
        ));
    }
    let mut steps = Vec::with_capacity(raw.step.len());
    for (n, step) in raw.step.iter().enumerate() {
        let n = n + 1;
        let say = filled(&step.say, &format!("step {n}: 'say'"))?;
        let look = filled(&step.look, &format!("step {n}: 'look'"))?;
        let mut lines = Vec::with_capacity(step.lines.len());
        for line in &step.lines {
            check_line(line.get_ref()).map_err(|why| {
                at(
                    line.span(),
                    format!("step {n} types '{}': {why}", line.get_ref()),
                )
            })?;
            lines.push(line.get_ref().clone());
        }
        steps.push(Step { say, lines, look });
    }
    Ok(Lesson {
        name: name.to_owned(),
        title,
        learn,
        steps,
        origin: file.to_owned(),
    })
}

/// Whether a lesson may type `line`: it parses as the message line would parse it, is not a
/// command that would end the lesson or the program, holds only visible characters (the
/// message line never holds others) and, as a message, has valid escapes.
pub fn check_line(line: &str) -> Result<(), String> {
    if line.is_empty() {
        return Err("an empty line sends nothing".into());
    }
    let mut visible = String::with_capacity(line.len());
    line.chars()
        .for_each(|c| text::push_visible(&mut visible, c));
    if visible != line {
        return Err(format!(
            "invisible or control characters: write them as escapes ({visible})"
        ));
    }
    match command::parse(line)? {
        Line::Message(message) => text::unescape(&message)
            .map(|_| ())
            .map_err(|err| err.to_string()),
        Line::Command(Command::Lesson(_) | Command::Quit) => {
            Err("a lesson may not start, stop or quit lessons".into())
        }
        Line::Command(_) => Ok(()),
    }
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Every lesson available: the built-in ones, then an instructor's folder (a lesson there
/// with a built-in lesson's name replaces it).
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    lessons: Vec<Arc<Lesson>>,
}

impl Catalog {
    /// The built-in lessons and those in `dir` (`--lessons DIR`); the first broken file is
    /// the error.
    pub fn load(dir: Option<&Path>) -> Result<Self, FileError> {
        let mut catalog = Self::default();
        for (name, text) in builtin::LESSONS {
            let file = format!("assets/lessons/{name}.toml");
            catalog.add(parse(name, &file, text)?);
        }
        if let Some(dir) = dir {
            catalog.add_folder(dir)?;
        }
        Ok(catalog)
    }

    fn add_folder(&mut self, dir: &Path) -> Result<(), FileError> {
        let shown = dir.display().to_string();
        let entries = std::fs::read_dir(dir).map_err(|err| {
            let why = match err.kind() {
                std::io::ErrorKind::NotFound => "no such folder".to_owned(),
                std::io::ErrorKind::NotADirectory => "not a folder".to_owned(),
                _ => err.to_string(),
            };
            FileError::whole(&shown, format!("lessons folder: {why}"))
        })?;
        let mut paths: Vec<_> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let file = path.display().to_string();
            let name = path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .unwrap_or_default();
            let text = tomlfile::read(&path)?;
            self.add(parse(name, &file, &text)?);
        }
        Ok(())
    }

    fn add(&mut self, lesson: Lesson) {
        let lesson = Arc::new(lesson);
        match self.lessons.iter_mut().find(|l| l.name == lesson.name) {
            Some(slot) => *slot = lesson,
            None => self.lessons.push(lesson),
        }
    }

    /// The lesson called `name`.
    pub fn find(&self, name: &str) -> Option<Arc<Lesson>> {
        self.lessons.iter().find(|l| l.name == name).cloned()
    }

    /// Every lesson, built-in ones first in teaching order.
    pub fn lessons(&self) -> impl Iterator<Item = &Lesson> {
        self.lessons.iter().map(|lesson| lesson.as_ref())
    }

    /// The names, for an error that lists what exists.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.lessons().map(|l| l.name.as_str()).collect();
        names.join(", ")
    }

    /// `echotui lesson`: one line per lesson, name, steps and title, aligned.
    pub fn listing(&self) -> String {
        let width = self.lessons().map(|l| l.name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for lesson in self.lessons() {
            let steps = crate::units::count(lesson.steps.len() as u64, "step", "steps");
            out += &format!("{:<width$}  {steps:>8}  {}\n", lesson.name, lesson.title);
        }
        out
    }
}

#[cfg(test)]
mod tests;
