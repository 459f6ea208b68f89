//! The lessons shipped in `assets/lessons/`, embedded so that `cargo install` users have them.
//! A test checks that every file in that folder is listed here, so none is forgotten.

/// One embedded lesson: its name and the text of `assets/lessons/NAME.toml`.
macro_rules! lesson {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../assets/lessons/", $name, ".toml")),
        )
    };
}

/// `(name, TOML text)`, in teaching order.
pub(super) const LESSONS: &[(&str, &str)] = &[
    lesson!("byte-stream"),
    lesson!("merged-sends"),
    lesson!("big-messages"),
    lesson!("nagle"),
    lesson!("flow-control"),
    lesson!("delay-jitter"),
    lesson!("loss"),
    lesson!("duplication-reordering"),
    lesson!("truncated-datagrams"),
    lesson!("half-close"),
    lesson!("reset"),
    lesson!("handshake"),
    lesson!("untrusted-bytes"),
    lesson!("iterative-server"),
    lesson!("framing"),
    lesson!("misbehaving-server"),
];
