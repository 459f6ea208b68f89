//! The narration bar beside the panes: the instructor's words are never cut.

use echotui::app::model::LessonRun;
use echotui::lesson::Catalog;

use super::*;

/// Every step of every shipped lesson, its introduction included, is narrated whole on the
/// smallest terminal echotui runs in, presenter mode too: the latency pane gives up its
/// sparkline (or its big digits) first, and keeps its figures.
#[test]
fn every_shipped_narration_is_whole_at_80x24() {
    let catalog = Catalog::load(None).unwrap();
    for (lesson, presenter) in catalog.lessons().flat_map(|l| [(l, false), (l, true)]) {
        for shown in 0..=lesson.steps.len() {
            let mut app = hello_world();
            app.view.presenter = presenter;
            app.lesson = Some(LessonRun {
                shown,
                ran: shown,
                ..LessonRun::new(catalog.find(&lesson.name).unwrap())
            });
            let screen = render(&app, 80, 24);
            // The bar's text as one line: each row without its borders, wrapped lines joined.
            let bar: Vec<&str> = screen
                .lines()
                .skip_while(|line| !line.contains("Lesson: "))
                .skip(1)
                .take_while(|line| !line.contains('└'))
                .map(|line| line.trim_matches(|c| c == '"' || c == '│').trim())
                .collect();
            let bar = bar.join(" ");
            let (say, look) = match shown.checked_sub(1).map(|i| &lesson.steps[i]) {
                Some(step) => (step.say.clone(), format!("Look for: {}", step.look)),
                None => (lesson.learn.clone(), String::new()),
            };
            let name = &lesson.name;
            for text in [say, look] {
                let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                assert!(
                    bar.contains(&text),
                    "{name} {shown}: {text:?} cut\n{screen}"
                );
            }
            assert!(
                screen.contains("sent 1  echoed 1") && screen.contains("p50"),
                "{name} {shown}: latency figures gone\n{screen}"
            );
        }
    }
}
