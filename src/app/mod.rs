//! The application state machine (The Elm Architecture): `Msg` in, `App` changed, `Effect`s
//! out. No I/O happens here, so every behaviour of the UI is a plain unit test.

pub mod command;
pub mod keymap;
pub mod model;
pub mod msg;
pub mod update;

pub use model::{App, Focus};
pub use msg::{Effect, Msg};
pub use update::update;
