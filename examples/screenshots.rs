//! Writes the README's pictures, `assets/screenshots/*.svg`, from the same rendering the
//! snapshot tests use: `cargo run --example screenshots`. `tests/screenshots.rs` fails when
//! a picture no longer matches the code.

use std::path::Path;

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/screenshots");
    std::fs::create_dir_all(&dir)?;
    for shot in echotui::screenshots::SHOTS {
        let path = dir.join(shot.file);
        std::fs::write(&path, shot.svg())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
