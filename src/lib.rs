pub mod app;
pub mod cli;
pub mod format;
pub mod net;
pub mod stats;
pub mod text;
