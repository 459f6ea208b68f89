//! Untrusted bytes → printable text (DESIGN §6).
//!
//! A peer can send escape sequences that retitle the terminal, move the cursor or hide text,
//! and code points that reorder or hide what follows. [`sanitize`] is the only way network
//! data reaches the screen or a log line, so every such byte becomes a visible escape.

use std::fmt::Write;

/// Turns untrusted bytes into text that is safe to print on a terminal.
///
/// C0/C1 controls and DEL become `\xNN` (or `\n`, `\r`, `\t`, `\0`, `\\` for the common ones),
/// invalid UTF-8 becomes `\xNN` per byte, and invisible or direction-changing code points
/// become `<U+XXXX>`. A literal backslash is doubled so the output is unambiguous.
pub fn sanitize(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for b in chunk.invalid() {
            push_hex_escape(&mut out, *b);
        }
    }
    out
}

/// Raw bytes as hex pairs (`48 65 6c 6c 6f`) for the hex view: exactly which bytes travelled,
/// safe to print whatever they are.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        '\\' => out.push_str("\\\\"),
        c if c.is_control() => {
            // C0, DEL and C1 all fit in one byte's worth of code points (< U+00A0).
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c if is_invisible_or_bidi(c) => {
            let _ = write!(out, "<U+{:04X}>", u32::from(c));
        }
        c => out.push(c),
    }
}

fn push_hex_escape(out: &mut String, b: u8) {
    let _ = write!(out, "\\x{b:02x}");
}

/// Code points that render as nothing or change the order of what follows: they let a peer
/// make the screen say something other than what was sent.
fn is_invisible_or_bidi(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'               // soft hyphen
        | '\u{034F}'             // combining grapheme joiner
        | '\u{061C}'             // Arabic letter mark
        | '\u{115F}' | '\u{1160}' // Hangul fillers
        | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' // Mongolian selectors and vowel separator
        | '\u{200B}'..='\u{200F}' // zero-width space/joiners, LRM, RLM
        | '\u{2028}'..='\u{202E}' // line/paragraph separators, bidi embeddings and overrides
        | '\u{2060}'..='\u{206F}' // word joiner, invisible operators, bidi isolates
        | '\u{3164}'             // Hangul filler
        | '\u{FE00}'..='\u{FE0F}' // variation selectors
        | '\u{FEFF}'             // zero-width no-break space (BOM)
        | '\u{FFA0}'             // halfwidth Hangul filler
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
        | '\u{E0000}'..='\u{E007F}' // tags
        | '\u{E0100}'..='\u{E01EF}' // variation selectors supplement
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_passes_through() {
        assert_eq!(sanitize(b"Hello, World!"), "Hello, World!");
        assert_eq!(sanitize("héllo ✓ 日本".as_bytes()), "héllo ✓ 日本");
    }

    #[test]
    fn controls_become_visible_escapes() {
        let cases: &[(&[u8], &str)] = &[
            (b"a\nb", "a\\nb"),
            (b"a\r\n", "a\\r\\n"),
            (b"\t", "\\t"),
            (b"\0", "\\0"),
            (b"\x1b[2J", "\\x1b[2J"),
            (b"\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
            (b"\x7f", "\\x7f"),
            ("\u{9b}31m".as_bytes(), "\\x9b31m"),
            (b"back\\slash", "back\\\\slash"),
        ];
        for (input, expected) in cases {
            assert_eq!(&sanitize(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn invalid_utf8_becomes_hex() {
        assert_eq!(sanitize(b"ok\xff\xfeok"), "ok\\xff\\xfeok");
        // A truncated multi-byte sequence at the end.
        assert_eq!(sanitize(b"\xe2\x82"), "\\xe2\\x82");
    }

    #[test]
    fn invisible_and_bidi_code_points_are_named() {
        assert_eq!(sanitize("a\u{202E}b".as_bytes()), "a<U+202E>b");
        assert_eq!(sanitize("a\u{200B}b".as_bytes()), "a<U+200B>b");
        assert_eq!(sanitize("\u{FEFF}x".as_bytes()), "<U+FEFF>x");
        assert_eq!(
            sanitize("\u{2066}x\u{2069}".as_bytes()),
            "<U+2066>x<U+2069>"
        );
    }

    #[test]
    fn output_never_contains_a_control_character() {
        // Every single byte and every pair of bytes: nothing a terminal would interpret.
        let mut input = Vec::new();
        for a in 0..=255u8 {
            input.push(a);
            for b in [0x1b, 0x80, 0x9b, 0xc2, 0xe2, b'a'] {
                input.extend([b, a]);
            }
        }
        let text = sanitize(&input);
        assert!(
            text.chars()
                .all(|c| !c.is_control() && !is_invisible_or_bidi(c))
        );
    }

    #[test]
    fn hex_view_shows_every_byte() {
        assert_eq!(hex(b"Hi\x1b\xff"), "48 69 1b ff");
        assert_eq!(hex(b""), "");
    }
}
