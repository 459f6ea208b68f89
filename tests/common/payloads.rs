//! The bytes tests send.

/// The tutorial's message.
pub const HELLO: &[u8] = b"Hello, World!";

/// A peer trying to retitle the terminal, clear the screen and reverse the text that follows,
/// with a NUL and a byte that is not UTF-8.
pub const HOSTILE: &[u8] = b"\x1b]0;pwned\x07\x1b[2J\xe2\x80\xaeevil\0\xff";

/// [`HOSTILE`] as every view of ours shows it (`text::sanitize`): each escape visible, none
/// obeyed.
pub const HOSTILE_SHOWN: &str = "\\x1b]0;pwned\\x07\\x1b[2J\\u{202E}evil\\0\\xff";

/// `len` bytes that differ from their neighbours, so a lost, doubled or reordered slice is a
/// mismatch.
pub fn patterned(len: usize) -> Vec<u8> {
    patterned_from(0, len)
}

/// [`patterned`] shifted by `seed`, so that several clients' messages differ from each other.
pub fn patterned_from(seed: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i + seed) % 251) as u8).collect()
}
