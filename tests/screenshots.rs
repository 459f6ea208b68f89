//! The README's pictures match the code: each `assets/screenshots/*.svg` is rendered again
//! from its scene and compared. Regenerate with `cargo run --example screenshots` (and look at
//! them) when a screen changes on purpose.

use std::path::Path;

use echotui::screenshots::SHOTS;

#[test]
fn every_screenshot_matches_what_the_code_draws() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/screenshots");
    let mut stale = Vec::new();
    for shot in SHOTS {
        let on_disk = std::fs::read_to_string(dir.join(shot.file)).unwrap_or_default();
        if on_disk != shot.svg() {
            stale.push(shot.file);
        }
    }
    assert!(
        stale.is_empty(),
        "{stale:?} differ from what the code draws: run `cargo run --example screenshots`"
    );
}

#[test]
fn every_svg_in_the_folder_is_a_screenshot_the_readme_shows() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/screenshots");
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            SHOTS.iter().any(|shot| shot.file == name),
            "{name} is not generated"
        );
        assert!(
            readme.contains(&format!("assets/screenshots/{name}")),
            "README does not show {name}"
        );
    }
}
