//! Each theme at 80×24, from the same scene as the README's theme pictures: the screen's
//! text, then every style it uses with the first text drawn in it, so a snapshot shows the
//! colours as well as the words. Review every snapshot by eye.

use echotui::app::model::ThemeName;
use echotui::screenshots::{scenes, screen};
use ratatui::buffer::Buffer;
use ratatui::style::Style;

/// The screen's rows, then `fg bg modifiers  "first text in that style"` per style.
fn text_and_styles(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut rows = String::new();
    let mut styles: Vec<(Style, String)> = Vec::new();
    for y in 0..area.height {
        let mut run: Option<(Style, String)> = None;
        for x in 0..area.width {
            let cell = &buffer[(x, y)];
            rows.push_str(cell.symbol());
            let style = cell.style();
            match &mut run {
                Some((s, text)) if *s == style => text.push_str(cell.symbol()),
                _ => {
                    if let Some(done) = run.take() {
                        keep(&mut styles, done);
                    }
                    run = Some((style, cell.symbol().to_owned()));
                }
            }
        }
        if let Some(done) = run.take() {
            keep(&mut styles, done);
        }
        rows.push('\n');
    }
    rows.push_str("\nstyles:\n");
    for (style, text) in styles {
        let modifiers = format!("{:?}", style.add_modifier);
        rows.push_str(&format!(
            "  fg {:<12} bg {:<12} {modifiers:<12} {:?}\n",
            format!("{:?}", style.fg.unwrap_or_default()),
            format!("{:?}", style.bg.unwrap_or_default()),
            text.trim()
        ));
    }
    rows
}

/// Remembers the first non-blank text drawn in each style.
fn keep(styles: &mut Vec<(Style, String)>, (style, text): (Style, String)) {
    if !text.trim().is_empty() && !styles.iter().any(|(s, _)| *s == style) {
        styles.push((style, text));
    }
}

fn snapshot(theme: ThemeName) -> String {
    text_and_styles(&screen(&scenes::themed(theme), 80, 24))
}

#[test]
fn dark_80x24() {
    insta::assert_snapshot!(snapshot(ThemeName::Dark));
}

#[test]
fn light_80x24() {
    insta::assert_snapshot!(snapshot(ThemeName::Light));
}

#[test]
fn high_contrast_80x24() {
    insta::assert_snapshot!(snapshot(ThemeName::HighContrast));
}

#[test]
fn colorblind_80x24() {
    insta::assert_snapshot!(snapshot(ThemeName::Colorblind));
}

/// `NO_COLOR` wins over every theme: no colour at all, state still in words.
#[test]
fn no_color_wins_over_every_theme() {
    for theme in ThemeName::ALL {
        let mut app = scenes::themed(theme);
        app.color = false;
        let buffer = screen(&app, 80, 24);
        for cell in buffer.content() {
            assert_eq!(
                (cell.fg, cell.bg),
                (Default::default(), Default::default()),
                "{theme}: a coloured cell {:?}",
                cell.symbol()
            );
        }
        let text: String = buffer.content().iter().map(|c| c.symbol()).collect();
        assert!(text.contains("connected"), "{theme}: the state in words");
    }
}

/// The presenter's lesson screen: big numbers, no time column, the narration and step.
#[test]
fn lesson_in_presenter_mode_80x24() {
    insta::assert_snapshot!(text_and_styles(&screen(
        &scenes::lesson_in_progress(),
        80,
        24
    )));
}
