use super::*;

#[test]
fn messages_and_escaped_slashes() {
    assert_eq!(
        parse("Hello, World!"),
        Ok(Line::Message("Hello, World!".into()))
    );
    assert_eq!(
        parse("//etc/passwd"),
        Ok(Line::Message("/etc/passwd".into()))
    );
    assert_eq!(
        parse(" /not a command"),
        Ok(Line::Message(" /not a command".into()))
    );
}

#[test]
fn commands() {
    let cases = [
        ("/help", Command::Help),
        ("/clear", Command::Clear),
        ("/reconnect", Command::Reconnect),
        ("/close", Command::Close),
        ("/reset", Command::Reset),
        ("/quit", Command::Quit),
        ("/exit", Command::Quit),
        ("/size 4096", Command::Size(4096)),
        ("/repeat 20 x", Command::Repeat(20, "x".into())),
        (
            "/repeat 2 hello world",
            Command::Repeat(2, "hello world".into()),
        ),
        ("/chart", Command::View(LatencyView::Chart)),
        ("/hist", Command::View(LatencyView::Histogram)),
        ("/resume", Command::Server(ServerCommand::Resume)),
        (
            "/server model iterative",
            Command::Server(ServerCommand::SetModel(crate::net::ServerModel::Iterative)),
        ),
        (
            "/server chunks 5",
            Command::Server(ServerCommand::EchoChunks(Some(5))),
        ),
        (
            "/server think off",
            Command::Server(ServerCommand::Think(None)),
        ),
        (
            "/server greeting 220 hi\\r\\n",
            Command::Server(ServerCommand::Greeting(Some(
                b"220 hi\r\n".as_slice().into(),
            ))),
        ),
        (
            "/server close-after 100",
            Command::Server(ServerCommand::CloseAfter(Some(100))),
        ),
        (
            "/server reset-after off",
            Command::Server(ServerCommand::ResetAfter(None)),
        ),
        (
            "/server greeting off",
            Command::Server(ServerCommand::Greeting(None)),
        ),
        (
            "/server think 5ms",
            Command::Server(ServerCommand::Think(Some(Duration::from_millis(5)))),
        ),
        ("/frame line", Command::Frame(Framing::Line)),
        (
            "/split 5 Hello, World!",
            Command::Split(5, "Hello, World!".into()),
        ),
        ("/clients 3", Command::Clients(3)),
        ("/tcp", Command::Transport(Transport::Tcp)),
        ("/lesson", Command::Lesson(LessonChoice::List)),
        ("/lesson off", Command::Lesson(LessonChoice::Off)),
        (
            "/lesson byte-stream",
            Command::Lesson(LessonChoice::Start("byte-stream".into())),
        ),
        ("/theme light", Command::Theme(ThemeName::Light)),
        ("/presenter", Command::Presenter),
    ];
    for (input, expected) in cases {
        assert_eq!(parse(input), Ok(Line::Command(expected)), "{input}");
    }
}

#[test]
fn bad_commands_explain_themselves() {
    let cases = [
        ("/nope", "unknown command /nope"),
        ("/", "empty command"),
        ("/size", "/size N: N must be a whole number"),
        ("/size 0", "/size N: N must be a whole number from 1"),
        ("/size lots", "/size N"),
        ("/repeat 5", "TEXT is missing"),
        ("/repeat 0 x", "/repeat N TEXT: N must be"),
        ("/repeat 100000 x", "/repeat N TEXT: N must be"),
        ("/help me", "/help takes no argument"),
        ("/pause now", "/pause takes no argument"),
        (
            "/read 0",
            "/read N: N must be a whole number from 1 to 65536",
        ),
        (
            "/read 99999",
            "/read N: N must be a whole number from 1 to 65536",
        ),
        ("/nagle maybe", "expected on or off"),
        ("/loss 150%", "/loss PERCENT:"),
        ("/delay -1s", "/delay DURATION:"),
        ("/rate fast", "/rate BYTES/S:"),
        ("/impair on", "/impair off: the only form"),
        ("/theme pink", "/theme NAME: unknown theme 'pink'"),
        ("/presenter on", "/presenter takes no argument"),
        ("/server model forking", "unknown server model 'forking'"),
        ("/server chunks 0", "/server chunks N|off: N must be"),
        ("/server sleep 5", "expected model, chunks"),
        ("/server think soon", "/server think DURATION|off:"),
        (
            "/server greeting",
            "/server greeting TEXT|off: TEXT is missing",
        ),
        (
            "/server close-after 0",
            "/server close-after BYTES|off: BYTES must be a whole number, at least 1",
        ),
        ("/split 5", "/split N TEXT: TEXT is missing"),
        (
            "/clients 500",
            "/clients N: N must be a whole number from 0 to 50",
        ),
        ("/frame xml", "unknown framing 'xml'"),
    ];
    for (input, expected) in cases {
        let err = parse(input).unwrap_err();
        assert!(err.contains(expected), "{input}: {err}");
    }
}

#[test]
fn every_name_parses_and_no_name_is_taken_twice() {
    let mut seen = Vec::new();
    for spec in COMMANDS {
        for name in spec.names {
            assert!(!seen.contains(name), "/{name} is in the table twice");
            seen.push(*name);
            assert!(spec.usage.contains(&format!("/{name}")), "{}", spec.usage);
        }
    }
}

#[test]
fn completion_lists_names_in_table_order() {
    assert_eq!(
        completions("re"),
        ["reconnect", "reset", "repeat", "read", "resume", "reorder"]
    );
    assert_eq!(completions("qu"), ["quit"]);
    assert!(completions("zz").is_empty());
}

#[test]
fn the_help_states_the_limits_the_parsers_apply() {
    let help = |name: &str| {
        COMMANDS
            .iter()
            .find(|spec| spec.names.contains(&name))
            .map(|spec| spec.help)
            .unwrap_or_default()
    };
    assert!(
        help("clients").contains(&format!("0..={MAX_PRACTICE_CLIENTS}")),
        "{}",
        help("clients")
    );
    assert!(parse(&format!("/clients {MAX_PRACTICE_CLIENTS}")).is_ok());
    assert!(parse(&format!("/clients {}", MAX_PRACTICE_CLIENTS + 1)).is_err());
}
