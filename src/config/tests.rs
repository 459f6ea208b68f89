use super::*;

fn parse_text(text: &str) -> Result<Vec<(&'static str, String)>, String> {
    parse("c.toml", text, Path::new("/etc/class"))
        .map(|values| values.into_iter().map(|(k, v)| (k.name, v)).collect())
        .map_err(|err| err.to_string())
}

#[test]
fn every_key_parses_as_the_command_line_would_write_it() {
    let text = r#"
listen = "0.0.0.0:12345"
read_size = 7
theme = "high-contrast"
presenter = true
mask_addresses = false
no_mouse = true
lessons = "my-lessons"

[limits]
max_conns = 30
max_per_ip = 2
idle_timeout = "1m"
write_stall = "5s"
udp_rate = 50
"#;
    let values = parse_text(text).unwrap();
    assert_eq!(values.len(), KEYS.len(), "{values:?}");
    let get = |name| values.iter().find(|(k, _)| *k == name).unwrap().1.clone();
    assert_eq!(get("read_size"), "7");
    assert_eq!(get("presenter"), "true");
    assert_eq!(
        get("lessons"),
        "/etc/class/my-lessons",
        "relative to the file's folder"
    );
    assert_eq!(get("idle_timeout"), "1m");
}

/// Every mistake names the file, the line and the key, in one line.
#[test]
fn mistakes_name_the_file_the_line_and_the_key() {
    let cases = [
        (
            "theme = \"dark\"\ncolour = \"red\"\n",
            "c.toml line 2, key 'colour': unknown key (keys: listen, read_size",
        ),
        (
            "\n\nread_size = 0\n",
            "c.toml line 3, key 'read_size': must be a whole number from 1 to 65536",
        ),
        (
            "read_size = \"big\"\n",
            "c.toml line 1, key 'read_size': expected a whole number, found string",
        ),
        (
            "theme = \"pink\"\n",
            "c.toml line 1, key 'theme': unknown theme 'pink' (themes: dark|light|high-contrast|colorblind)",
        ),
        (
            "presenter = \"yes\"\n",
            "c.toml line 1, key 'presenter': expected true or false, found string",
        ),
        (
            "[limits]\nmax_conns = 10\nidle_timeout = \"soon\"\n",
            "c.toml line 3, key 'limits.idle_timeout':",
        ),
        (
            "[limits]\nmax_con = 10\n",
            "c.toml line 2, key 'max_con': unknown key",
        ),
        (
            "[colours]\nx = 1\n",
            "c.toml line 1, key 'colours': unknown key",
        ),
        ("theme = \n", "c.toml line 1"),
        ("listen = \"nowhere\"\n", "c.toml line 1, key 'listen':"),
    ];
    for (text, expected) in cases {
        let err = parse_text(text).unwrap_err();
        assert!(
            err.starts_with(expected),
            "{text:?}\n→ {err}\n  expected {expected}"
        );
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn the_files_values_become_the_arguments_defaults_and_the_command_line_still_wins() {
    let dir = std::env::temp_dir().join(format!("echotui-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        "read_size = 7\ntheme = \"light\"\n[limits]\nmax_conns = 3\n",
    )
    .unwrap();
    let args = |extra: &[&str]| {
        let mut args: Vec<OsString> =
            vec!["echotui".into(), "--config".into(), path.clone().into()];
        args.extend(extra.iter().map(OsString::from));
        args
    };
    let cli = parse_command_line(args(&["serve"])).unwrap();
    assert_eq!(cli.server.read_size, [7]);
    assert_eq!(cli.classroom.theme, Some(ThemeName::Light));
    let Some(Command::Serve(serve)) = &cli.command else {
        panic!("not serve")
    };
    assert_eq!(serve.max_conns, 3);
    let cli = parse_command_line(args(&["--read-size", "9", "serve", "--max-conns", "4"])).unwrap();
    assert_eq!(cli.server.read_size, [9]);
    let Some(Command::Serve(serve)) = &cli.command else {
        panic!("not serve")
    };
    assert_eq!(serve.max_conns, 4);
    std::fs::remove_dir_all(&dir).unwrap();
    let err = parse_command_line(args(&[])).unwrap_err().to_string();
    assert!(
        err.contains("config.toml: cannot read it: no such file"),
        "{err}"
    );
}

#[test]
fn clap_errors_become_one_line() {
    let text = "error: invalid value 'pink' for '--theme <NAME>'\n  [possible values: dark, light]\n\nFor more information, try '--help'.\n";
    assert_eq!(
        one_line(text),
        "error: invalid value 'pink' for '--theme <NAME>' [possible values: dark, light]"
    );
}
