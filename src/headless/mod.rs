//! Modes without a terminal UI, for scripts and CI: the same `net` and `stats`, with text or
//! JSON on stdout.

pub mod ping;
pub mod serve;
