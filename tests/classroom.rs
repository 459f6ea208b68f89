//! The classroom kit from the command line: lessons listed and refused, the config file's
//! precedence and errors, completion scripts and the man page checked by the real tools where
//! they are installed, examples in every `--help`, masked addresses in `serve`'s text log.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::headless::Headless;
use common::process::echotui;

/// A scratch folder for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("echotui-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, text: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs echotui with `env` (and no config file of the user's: `XDG_CONFIG_HOME` points to
/// `config_home`); returns (exit code, stdout, stderr).
fn run(args: &[&str], env: &[(&str, &str)], config_home: &Path) -> (i32, String, String) {
    let mut cmd = assert_cmd::Command::from_std(echotui(args));
    cmd.env("XDG_CONFIG_HOME", config_home)
        .env_remove("ECHOTUI_CONFIG")
        .timeout(Duration::from_secs(30));
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Exit 2 and exactly one line on stderr, an `error:` containing `needle`.
fn assert_one_line_error((code, _, stderr): (i32, String, String), needle: &str) {
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in {stderr}");
}

/// The value line of `key` in `echotui config`'s output, with the source comment above it.
fn entry(config: &str, key: &str) -> (String, String) {
    let lines: Vec<&str> = config.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in\n{config}"));
    (lines[at].to_owned(), lines[at - 1].to_owned())
}

#[test]
fn lessons_are_listed_and_unknown_names_are_one_line_errors() {
    let home = Scratch::new("lessons-home");
    let (code, out, _) = run(&["lesson"], &[], &home.0);
    assert_eq!(code, 0);
    assert!(
        out.contains("byte-stream") && out.contains("TCP is a byte stream"),
        "{out}"
    );
    assert!(out.lines().count() >= 13, "{out}");
    assert_one_line_error(
        run(&["lesson", "nope"], &[], &home.0),
        "no lesson called 'nope'",
    );
    assert_one_line_error(
        run(&["--theme", "pink"], &[], &home.0),
        "invalid value 'pink'",
    );
    assert_one_line_error(
        run(&["completions", "tcsh"], &[], &home.0),
        "possible values: bash",
    );
}

/// The README's example lesson is a working lesson, and a broken one names file and line.
#[test]
fn an_instructors_folder_adds_lessons_and_a_broken_one_says_where() {
    let home = Scratch::new("own-lessons");
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("# ~/lessons/recv-loop.toml")
        .expect("the example lesson");
    let example = &readme[start..start + readme[start..].find("```").unwrap()];
    let dir = home.0.join("lessons");
    home.write("lessons/recv-loop.toml", example.as_bytes());
    let dir_arg = dir.to_str().unwrap();
    let (code, out, err) = run(&["lesson", "--lessons", dir_arg], &[], &home.0);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("recv-loop") && out.contains("Why recv needs a loop"),
        "{out}"
    );

    home.write("lessons/broken.toml", b"title = \"t\"\nlearn = \"l\"\n[[step]]\nsay = \"s\"\ntype = [\"/reed 4\"]\nlook = \"x\"\n");
    assert_one_line_error(
        run(&["lesson", "--lessons", dir_arg], &[], &home.0),
        "broken.toml line 5, key 'step.type': step 1 types '/reed 4': unknown command /reed",
    );
}

#[test]
fn config_precedence_is_command_line_then_environment_then_file_then_defaults() {
    let home = Scratch::new("precedence");
    let (_, config, _) = run(&["config"], &[], &home.0);
    assert_eq!(entry(&config, "read_size").0, "read_size = 1024");
    assert!(entry(&config, "read_size").1.contains("built-in default"));

    // The default file: $XDG_CONFIG_HOME/echotui/config.toml.
    home.write(
        "echotui/config.toml",
        b"read_size = 7\ntheme = \"light\"\n[limits]\nmax_conns = 30\n",
    );
    let (code, config, err) = run(&["config"], &[], &home.0);
    assert_eq!(code, 0, "{err}");
    assert_eq!(entry(&config, "read_size").0, "read_size = 7");
    assert!(
        entry(&config, "read_size")
            .1
            .contains("from the config file")
    );
    assert_eq!(entry(&config, "theme").0, "theme = \"light\"");
    assert_eq!(entry(&config, "max_conns").0, "max_conns = 30");

    let env = [("ECHOTUI_READ_SIZE", "9"), ("ECHOTUI_MAX_CONNS", "40")];
    let (_, config, _) = run(&["config"], &env, &home.0);
    assert_eq!(entry(&config, "read_size").0, "read_size = 9");
    assert!(entry(&config, "read_size").1.contains("$ECHOTUI_READ_SIZE"));
    assert_eq!(entry(&config, "max_conns").0, "max_conns = 40");
    assert_eq!(
        entry(&config, "theme").0,
        "theme = \"light\"",
        "the file still counts"
    );

    let (_, config, _) = run(
        &["--read-size", "11", "config", "--theme", "dark"],
        &env,
        &home.0,
    );
    assert_eq!(entry(&config, "read_size").0, "read_size = 11");
    assert!(entry(&config, "read_size").1.contains("command line"));
    assert_eq!(entry(&config, "theme").0, "theme = \"dark\"");
}

/// What `echotui config` prints can be saved and read back: the same values.
#[test]
fn the_printed_config_reads_back_as_the_same_config() {
    let home = Scratch::new("round-trip");
    let env = [("ECHOTUI_THEME", "colorblind"), ("ECHOTUI_PRESENTER", "1")];
    let (_, printed, _) = run(&["config", "--read-size", "5"], &env, &home.0);
    let saved = home.write("saved.toml", printed.as_bytes());
    let (code, again, err) = run(
        &["config", "--config", saved.to_str().unwrap()],
        &[],
        &home.0,
    );
    assert_eq!(code, 0, "{err}");
    let values = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(values(&printed), values(&again));
    assert!(again.contains("theme = \"colorblind\"") && again.contains("presenter = true"));

    // The README's example config file is a valid one.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("listen = \"0.0.0.0:12345\"")
        .expect("the example config");
    let example = &readme[start..start + readme[start..].find("```").unwrap()];
    let path = home.write("example.toml", example.as_bytes());
    let (code, _, err) = run(
        &["config", "--config", path.to_str().unwrap()],
        &[],
        &home.0,
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn config_file_mistakes_are_one_line_naming_file_line_and_key() {
    let home = Scratch::new("mistakes");
    let cases: [(&[u8], &str); 4] = [
        (
            b"theme = \"dark\"\ncolour = 1\n",
            "line 2, key 'colour': unknown key",
        ),
        (
            b"\nread_size = 0\n",
            "line 2, key 'read_size': must be a whole number from 1",
        ),
        (
            b"[limits]\nwrite_stall = \"0s\"\n",
            "line 2, key 'limits.write_stall':",
        ),
        (
            b"presenter = \"maybe\"\n",
            "line 1, key 'presenter': expected true or false",
        ),
    ];
    for (text, needle) in cases {
        let path = home.write("bad.toml", text);
        let path = path.to_str().unwrap();
        assert_one_line_error(run(&["--config", path, "config"], &[], &home.0), needle);
        // Accepted after the subcommand too, and from the environment.
        assert_one_line_error(run(&["ping", "--config", path], &[], &home.0), needle);
        assert_one_line_error(
            run(&["config"], &[("ECHOTUI_CONFIG", path)], &home.0),
            needle,
        );
    }
    let dir = home.0.to_str().unwrap();
    assert_one_line_error(
        run(&["--config", dir, "config"], &[], &home.0),
        "is a directory",
    );
    let missing = home.0.join("missing.toml");
    assert_one_line_error(
        run(
            &["--config", missing.to_str().unwrap(), "config"],
            &[],
            &home.0,
        ),
        "cannot read it: no such file",
    );
    let binary = home.write("binary.toml", b"theme = \"dark\"\n\xff\xfe\n");
    assert_one_line_error(
        run(
            &["--config", binary.to_str().unwrap(), "config"],
            &[],
            &home.0,
        ),
        "binary.toml line 2: not UTF-8 text",
    );
}

/// Every completion script names the subcommands and the themes (the shells themselves check
/// their scripts in `tests/needs.rs`, where they are installed); the man page has the keys,
/// the commands and the lessons (groff renders it there too).
#[test]
fn completion_scripts_and_the_man_page_cover_the_classroom_kit() {
    let home = Scratch::new("completions");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let (code, script, err) = run(&["completions", shell], &[], &home.0);
        assert_eq!(code, 0, "{err}");
        assert!(
            script.contains("lesson") && script.contains("completions"),
            "{shell}"
        );
    }
    let (_, bash, _) = run(&["completions", "bash"], &[], &home.0);
    assert!(bash.contains("high-contrast"), "theme names are completed");
    let (code, page, err) = run(&["man"], &[], &home.0);
    assert_eq!(code, 0, "{err}");
    for section in [
        ".SH KEYS",
        ".SH COMMANDS",
        ".SH LESSONS",
        ".SH FILES",
        "TCP is a byte stream",
    ] {
        assert!(page.contains(section), "no {section} in the man page");
    }
}

#[test]
fn every_subcommands_help_ends_with_examples() {
    let home = Scratch::new("help");
    let subcommands = [
        "serve",
        "connect",
        "ping",
        "bench",
        "lesson",
        "config",
        "completions",
        "man",
    ];
    for args in
        std::iter::once(vec!["--help"]).chain(subcommands.iter().map(|s| vec![*s, "--help"]))
    {
        let (code, out, _) = run(&args, &[], &home.0);
        assert_eq!(code, 0, "{args:?}");
        let tail = &out[out
            .rfind("Examples:")
            .unwrap_or_else(|| panic!("{args:?}: {out}"))..];
        assert!(
            tail.lines()
                .skip(1)
                .filter(|l| l.contains("echotui"))
                .count()
                >= 2,
            "{args:?}"
        );
    }
}

/// `serve --headless --mask-addresses`: the text log says `student-01`; `--json` keeps the
/// real address.
#[test]
fn serve_masks_addresses_in_its_text_log_but_not_in_json() {
    let home = Scratch::new("mask");
    for (json, expected) in [
        (false, "#1 student-01 connected"),
        (true, "\"peer\":\"127.0.0.1:"),
    ] {
        let mut args = vec![
            "serve",
            "--headless",
            "--listen",
            "127.0.0.1:0",
            "--mask-addresses",
        ];
        if json {
            args.push("--json");
        }
        let mut command = echotui(&args);
        command.env("XDG_CONFIG_HOME", &home.0);
        let mut server = Headless::spawn(&mut command);
        let _client = std::net::TcpStream::connect(server.addr).unwrap();
        // The log is flushed every 100 ms: the next line is the connection.
        let line = server.next_line();
        assert!(line.contains(expected), "{line}");
        if !json {
            assert!(!line.contains("127.0.0.1"), "{line}");
        }
    }
}
