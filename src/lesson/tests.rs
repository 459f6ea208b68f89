use super::*;

fn lesson(text: &str) -> Result<Lesson, FileError> {
    parse("mine", "mine.toml", text)
}

#[test]
fn every_shipped_lesson_parses_and_types_only_lines_that_parse() {
    let catalog = Catalog::load(None).unwrap();
    assert_eq!(catalog.lessons().count(), builtin::LESSONS.len());
    for lesson in catalog.lessons() {
        assert!(!lesson.steps.is_empty(), "{}", lesson.name);
        for (n, step) in lesson.steps.iter().enumerate() {
            for line in &step.lines {
                // The same parser the message line uses: no lesson can type a command that
                // does not exist, or a message the line would refuse.
                let parsed = command::parse(line);
                assert!(
                    parsed.is_ok(),
                    "{} step {}: {line}: {parsed:?}",
                    lesson.name,
                    n + 1
                );
                assert_eq!(check_line(line), Ok(()), "{} step {}", lesson.name, n + 1);
            }
        }
    }
}

#[test]
fn every_file_in_assets_lessons_is_embedded() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/lessons");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut embedded: Vec<String> = builtin::LESSONS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    embedded.sort();
    assert_eq!(files, embedded);
}

#[test]
fn a_small_lesson_parses() {
    let parsed = lesson(
        r#"
title = "Mine"
learn = "something"
[[step]]
say = "first"
type = ["/read 7", "Hello, World!", '\x1b[2J']
look = "the reads"
[[step]]
say = "second, nothing typed"
look = "the screen"
"#,
    )
    .unwrap();
    assert_eq!(parsed.name, "mine");
    assert_eq!(parsed.steps.len(), 2);
    assert_eq!(
        parsed.steps[0].lines,
        ["/read 7", "Hello, World!", "\\x1b[2J"]
    );
    assert!(parsed.steps[1].lines.is_empty());
}

/// A broken lesson names the file, the line and what is wrong, in one line.
#[test]
fn broken_lessons_say_where_and_why() {
    let cases = [
        (
            "title = \"t\"\nlearn = \"l\"\n[[step]]\nsay = \"s\"\ntype = [\"/lod 30%\"]\nlook = \"x\"\n",
            "mine.toml line 5, key 'step.type': step 1 types '/lod 30%': unknown command /lod",
        ),
        (
            "title = \"t\"\nlearn = \"l\"\n[[step]]\nsay = \"s\"\ntype = [\n  \"/read 7\",\n  \"/read 0\",\n]\nlook = \"x\"\n",
            "mine.toml line 7, key 'step.type': step 1 types '/read 0': /read N: N must be",
        ),
        (
            "title = \"t\"\nlearn = \"l\"\ncolour = 3\n[[step]]\nsay = \"s\"\nlook = \"x\"\n",
            "mine.toml line 3, key 'colour': unknown field `colour`",
        ),
        (
            "title = \"t\"\nlearn = \"l\"\n[[step]]\nsay = \"s\"\n",
            "mine.toml line 3",
        ),
        ("title = \"t\"\nlearn = \"l\"\n", "missing field `step`"),
        (
            "title = \"\"\nlearn = \"l\"\n[[step]]\nsay = \"s\"\nlook = \"x\"\n",
            "mine.toml line 1, key 'title': the title is empty",
        ),
        (
            "title = \"t\"\nlearn = \"l\"\n[[step]]\nsay = \"s\"\ntype = [\"/quit\"]\nlook = \"x\"\n",
            "may not start, stop or quit",
        ),
        (
            "title = \"t\"\nlearn = \"l\"\n[[step]]\nsay = \"s\"\ntype = [\"bad \\\\q\"]\nlook = \"x\"\n",
            "unknown escape",
        ),
        (
            "title = \"t\"\nlearn = \"l\"\n[[step]]\nsay = \"s\"\ntype = [\"a\\tb\"]\nlook = \"x\"\n",
            "write them as escapes (a\\tb)",
        ),
        ("title = [", "mine.toml line 1"),
    ];
    for (text, expected) in cases {
        let err = lesson(text).unwrap_err().to_string();
        assert!(
            err.contains(expected),
            "{text}\n→ {err}\n  expected {expected}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
    }
    let err = parse("my lesson", "my lesson.toml", "").unwrap_err();
    assert!(err.to_string().contains("only letters, digits"), "{err}");
}

#[test]
fn a_folder_adds_lessons_and_replaces_a_built_in_one_of_the_same_name() {
    let dir = std::env::temp_dir().join(format!("echotui-lessons-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let body = "learn = \"l\"\n[[step]]\nsay = \"s\"\nlook = \"x\"\n";
    std::fs::write(
        dir.join("zz-mine.toml"),
        format!("title = \"Mine\"\n{body}"),
    )
    .unwrap();
    std::fs::write(
        dir.join("loss.toml"),
        format!("title = \"My loss\"\n{body}"),
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not a lesson").unwrap();
    let catalog = Catalog::load(Some(&dir)).unwrap();
    assert_eq!(catalog.find("zz-mine").unwrap().title, "Mine");
    assert_eq!(catalog.find("loss").unwrap().title, "My loss");
    assert_eq!(catalog.lessons().count(), builtin::LESSONS.len() + 1);
    std::fs::write(dir.join("broken.toml"), "title = 3\n").unwrap();
    let err = Catalog::load(Some(&dir)).unwrap_err().to_string();
    assert!(err.contains("broken.toml line 1"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
    let err = Catalog::load(Some(&dir)).unwrap_err().to_string();
    assert!(err.contains("lessons folder: no such folder"), "{err}");
}

#[test]
fn the_listing_has_a_line_per_lesson() {
    let listing = Catalog::load(None).unwrap().listing();
    assert_eq!(listing.lines().count(), builtin::LESSONS.len());
    assert!(listing.contains("byte-stream"), "{listing}");
    assert!(listing.contains("TCP is a byte stream"), "{listing}");
}
