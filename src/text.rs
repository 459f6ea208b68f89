//! Untrusted bytes → printable text, and back.
//!
//! A peer can send escape sequences that retitle the terminal, move the cursor or hide text,
//! and code points that reorder or hide what follows. [`sanitize`] is the only way network
//! data reaches the screen or a log line, so every such byte becomes a visible escape.
//!
//! The escapes are one small language, the one Rust string literals use: `\n`, `\r`, `\t`,
//! `\0`, `\\`, `\xNN` for a byte and `\u{XXXX}` for a code point. The message line
//! accepts the same language ([`unescape`]), so whatever a pane shows can be typed back to
//! send exactly the same bytes: `unescape(&sanitize(b)) == b` for every `b`.

use std::fmt::Write;

/// Turns untrusted bytes into text that is safe to print on a terminal.
///
/// C0 controls and DEL become `\xNN` (or `\n`, `\r`, `\t`, `\0` for the common ones), C1
/// controls and invisible or direction-changing code points `\u{XXXX}`, invalid UTF-8 `\xNN`
/// per byte. A literal backslash is doubled so the output is unambiguous.
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
    if c == '\\' {
        out.push_str("\\\\");
    } else {
        push_visible(out, c);
    }
}

/// Appends `c`, or its escape when a terminal would act on it or not show it. A backslash
/// passes as itself: the message line uses this for what the user types, where a backslash
/// starts an escape.
pub fn push_visible(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        // C0 and DEL are one byte in UTF-8 too, so `\xNN` means the same either way.
        c if c.is_ascii_control() => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        // C1 controls are two bytes in UTF-8: named as code points, so `\x9b` (one raw byte)
        // is never confused with U+009B.
        c if c.is_control() || is_invisible_or_bidi(c) => {
            let _ = write!(out, "\\u{{{:04X}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// Why a message line could not be turned into bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EscapeError {
    #[error("a lone \\ at the end (type \\\\ for a backslash)")]
    Trailing,
    #[error("unknown escape \\{0} (escapes: \\n \\r \\t \\0 \\\\ \\xNN \\u{{XXXX}})")]
    Unknown(char),
    #[error("\\x needs two hex digits, as in \\x1b")]
    BadByte,
    #[error("\\u needs a code point in braces, as in \\u{{202E}}")]
    BadCodePoint,
}

/// The bytes a message line stands for: the escapes of [`sanitize`] turned back into the
/// bytes they name, everything else as UTF-8.
pub fn unescape(line: &str) -> Result<Vec<u8>, EscapeError> {
    let mut out = Vec::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut utf8 = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            continue;
        }
        match chars.next().ok_or(EscapeError::Trailing)? {
            'n' => out.push(b'\n'),
            'r' => out.push(b'\r'),
            't' => out.push(b'\t'),
            '0' => out.push(0),
            '\\' => out.push(b'\\'),
            'x' => {
                let digits: String = chars.by_ref().take(2).collect();
                let byte = (digits.len() == 2)
                    .then(|| u8::from_str_radix(&digits, 16).ok())
                    .flatten()
                    .ok_or(EscapeError::BadByte)?;
                out.push(byte);
            }
            'u' => {
                let code_point = (chars.next() == Some('{'))
                    .then(|| {
                        let digits: String = chars.by_ref().take_while(|&c| c != '}').collect();
                        u32::from_str_radix(&digits, 16)
                            .ok()
                            .and_then(char::from_u32)
                    })
                    .flatten()
                    .ok_or(EscapeError::BadCodePoint)?;
                let mut utf8 = [0; 4];
                out.extend_from_slice(code_point.encode_utf8(&mut utf8).as_bytes());
            }
            other => return Err(EscapeError::Unknown(other)),
        }
    }
    Ok(out)
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
            ("\u{9b}31m".as_bytes(), "\\u{009B}31m"),
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
        assert_eq!(sanitize("a\u{202E}b".as_bytes()), "a\\u{202E}b");
        assert_eq!(sanitize("a\u{200B}b".as_bytes()), "a\\u{200B}b");
        assert_eq!(sanitize("\u{FEFF}x".as_bytes()), "\\u{FEFF}x");
        assert_eq!(
            sanitize("\u{2066}x\u{2069}".as_bytes()),
            "\\u{2066}x\\u{2069}"
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
    fn escapes_turn_back_into_the_bytes_they_name() {
        assert_eq!(unescape("Hello\\r\\n").unwrap(), b"Hello\r\n");
        assert_eq!(unescape("\\x1b[2J\\0\\t\\\\").unwrap(), b"\x1b[2J\0\t\\");
        assert_eq!(
            unescape("\\xff\\u{202E}é").unwrap(),
            b"\xff\xe2\x80\xae\xc3\xa9"
        );
        assert_eq!(unescape("back\\"), Err(EscapeError::Trailing));
        assert_eq!(unescape("C:\\dir"), Err(EscapeError::Unknown('d')));
        assert_eq!(unescape("\\x1"), Err(EscapeError::BadByte));
        assert_eq!(unescape("\\xzz"), Err(EscapeError::BadByte));
        assert_eq!(unescape("\\u202E"), Err(EscapeError::BadCodePoint));
        assert_eq!(unescape("\\u{D800}"), Err(EscapeError::BadCodePoint));
    }

    #[test]
    fn what_a_pane_shows_can_be_typed_back() {
        let mut every_pair = Vec::new();
        for a in 0..=255u8 {
            for b in [0x1b, 0x80, 0x9b, 0xc2, 0xe2, b'a', b'\\', b'x'] {
                every_pair.extend([b, a]);
            }
        }
        let hostile = "\u{9b}\u{202E}\u{200D}\u{2028}\u{180D}\\x41".as_bytes();
        for bytes in [every_pair.as_slice(), hostile, b"plain"] {
            assert_eq!(unescape(&sanitize(bytes)).unwrap(), bytes);
        }
    }

    #[test]
    fn hex_view_shows_every_byte() {
        assert_eq!(hex(b"Hi\x1b\xff"), "48 69 1b ff");
        assert_eq!(hex(b""), "");
    }
}
