//! TOML files that people write by hand (lessons, the config file): read them, and when one
//! is wrong, say where in one line: the file, the line, the key and what is wrong.
//!
//! `toml`'s own errors are several lines with a caret drawing; the program's rule is one
//! `error:` line, so this module turns a span into a line number and names the key written
//! on that line.

use std::fmt;
use std::io::ErrorKind;
use std::ops::Range;
use std::path::Path;

/// Something wrong in a file the user wrote, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file as the user named it (or `lessons/NAME.toml` for a built-in lesson).
    pub file: String,
    /// 1-based; `None` when the problem is the file as a whole (unreadable, empty).
    pub line: Option<usize>,
    /// The key the problem is about, dotted for a table (`limits.max_conns`).
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ", key '{key}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FileError {}

impl FileError {
    /// A problem with the whole file.
    pub fn whole(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
            key: None,
            message: message.into(),
        }
    }

    /// A problem at `span` of `text`: its line, and the key written on that line.
    pub fn at(file: &str, text: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        let (line, key) = locate(text, span.start);
        Self {
            file: file.to_owned(),
            line: Some(line),
            key,
            message: message.into(),
        }
    }

    /// A parse or type error from `toml`, in one line.
    pub fn from_toml(file: &str, text: &str, err: &toml::de::Error) -> Self {
        // The message is one or two sentences without the caret drawing; keep the first line.
        let message = err
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .trim();
        match err.span() {
            Some(span) => Self::at(file, text, span, message),
            None => Self::whole(file, message),
        }
    }
}

/// Reads a UTF-8 text file, with a clear error for a missing file, a directory, a file that
/// cannot be read or one that is not UTF-8.
pub fn read(path: &Path) -> Result<String, FileError> {
    let name = path.display().to_string();
    if path.is_dir() {
        return Err(FileError::whole(&name, "is a directory, not a file"));
    }
    let bytes = std::fs::read(path).map_err(|err| {
        let why = match err.kind() {
            ErrorKind::NotFound => "no such file".to_owned(),
            ErrorKind::PermissionDenied => "permission denied".to_owned(),
            _ => err.to_string(),
        };
        FileError::whole(&name, format!("cannot read it: {why}"))
    })?;
    String::from_utf8(bytes).map_err(|err| {
        let line = line_at(err.as_bytes(), err.utf8_error().valid_up_to());
        FileError {
            file: name,
            line: Some(line),
            key: None,
            message: "not UTF-8 text".into(),
        }
    })
}

/// The 1-based line of byte `offset`, and the key (dotted with its table) written there.
fn locate(text: &str, offset: usize) -> (usize, Option<String>) {
    let line = line_at(text.as_bytes(), offset);
    let this_line = text.lines().nth(line - 1).unwrap_or("");
    let table = text.lines().take(line - 1).filter_map(table_header).last();
    // A value on a line of its own (inside an array) belongs to the last key above it.
    let key = key_of(this_line).or_else(|| text.lines().take(line).filter_map(key_of).last());
    let key = key.map(|key| match &table {
        Some(table) => format!("{table}.{key}"),
        None => key,
    });
    (line, key)
}

/// The 1-based line that byte `offset` is on.
fn line_at(bytes: &[u8], offset: usize) -> usize {
    let before = &bytes[..offset.min(bytes.len())];
    before.iter().filter(|&&b| b == b'\n').count() + 1
}

/// `[limits]` → `limits`; `[[step]]` → `step`.
fn table_header(line: &str) -> Option<String> {
    let line = line.trim();
    let inner = line.strip_prefix('[')?.split(']').next()?;
    Some(inner.trim_start_matches('[').trim().to_owned())
}

/// The bare key of `key = value` (quotes removed), if the line is one.
fn key_of(line: &str) -> Option<String> {
    let line = line.trim();
    if line.starts_with('#') || line.starts_with('[') {
        return None;
    }
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"').trim_matches('\'');
    let bare = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    (!key.is_empty() && bare).then(|| key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_names_its_line_and_the_key_with_its_table() {
        let text = "theme = \"dark\"\n\n[limits]\nmax_conns = 0\n";
        let at = text.find('0').unwrap();
        let err = FileError::at("c.toml", text, at..at + 1, "must be at least 1");
        assert_eq!(
            err.to_string(),
            "c.toml line 4, key 'limits.max_conns': must be at least 1"
        );
    }

    #[test]
    fn toml_errors_become_one_line() {
        let text = "theme = \n";
        let err = toml::from_str::<toml::Table>(text).unwrap_err();
        let err = FileError::from_toml("c.toml", text, &err);
        assert_eq!(err.line, Some(1));
        assert!(!err.to_string().contains('\n'), "{err}");
    }

    #[test]
    fn files_that_cannot_be_read_say_why() {
        let dir = std::env::temp_dir();
        let err = read(&dir).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        let missing = dir.join("echotui-no-such-file.toml");
        let err = read(&missing).unwrap_err();
        assert!(err.to_string().contains("no such file"), "{err}");
        let binary = dir.join(format!("echotui-binary-{}.toml", std::process::id()));
        std::fs::write(&binary, b"a = 1\n\xff\xfe").unwrap();
        let err = read(&binary).unwrap_err();
        std::fs::remove_file(&binary).unwrap();
        assert_eq!(err.line, Some(2));
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }
}
