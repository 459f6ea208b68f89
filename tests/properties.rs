//! Property tests (ARCHITECTURE.md §7): rules that must hold for every input, not only the
//! ones a person thought of.

use std::time::{Duration, Instant};

use echotui::app::command;
use echotui::app::model::InputLine;
use echotui::stats::{EchoUpdate, RttTracker};
use echotui::text::{sanitize, unescape};
use echotui::units;
use proptest::prelude::*;

/// Whether a terminal would act on `c` or draw nothing for it.
fn unsafe_on_a_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

proptest! {
    /// However the server re-slices the stream, every message is echoed once, in order,
    /// with no mismatch and nothing unsolicited.
    #[test]
    fn rtt_matching_survives_any_reslicing(
        messages in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..50), 1..20),
        cuts in prop::collection::vec(1usize..64, 1..40),
    ) {
        let t0 = Instant::now();
        let mut tracker = RttTracker::default();
        for (id, message) in messages.iter().enumerate() {
            tracker.sent(id as u64, message.as_slice().into(), t0);
        }
        let stream = messages.concat();
        let mut updates = Vec::new();
        let mut rest = stream.as_slice();
        let mut cut = cuts.iter().cycle();
        let mut at = t0;
        while !rest.is_empty() {
            let n = (*cut.next().unwrap()).min(rest.len());
            at += Duration::from_micros(1);
            tracker.received(&rest[..n], at, &mut updates);
            rest = &rest[n..];
        }
        let echoed: Vec<u64> = updates
            .iter()
            .filter_map(|u| match u {
                EchoUpdate::Echoed { id, .. } => Some(*id),
                EchoUpdate::Partial { .. } => None,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        prop_assert_eq!(echoed, (0..messages.len() as u64).collect::<Vec<_>>());
        prop_assert_eq!(tracker.outstanding(), 0);
    }

    /// Sanitized text never holds a character a terminal would act on, and always turns
    /// back into exactly the bytes it came from.
    #[test]
    fn sanitized_text_is_safe_and_reversible(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let text = sanitize(&bytes);
        prop_assert!(!text.chars().any(unsafe_on_a_terminal), "{text:?}");
        prop_assert_eq!(unescape(&text).unwrap(), bytes);
    }

    /// Whatever is typed or pasted, the message line holds only visible characters, and a
    /// paste sends exactly what was pasted.
    #[test]
    fn the_message_line_only_holds_visible_characters(typed in ".{0,40}", pasted in ".{0,40}") {
        let mut line = InputLine::default();
        line.type_text(&typed);
        prop_assert!(!line.value().chars().any(unsafe_on_a_terminal));
        let mut line = InputLine::default();
        line.paste(&pasted);
        prop_assert!(!line.value().chars().any(unsafe_on_a_terminal));
        prop_assert_eq!(unescape(line.value()).unwrap(), pasted.as_bytes());
    }

    /// No line makes the command parser or the escape parser panic.
    #[test]
    fn any_line_parses_or_explains(line in "/?[a-z]{0,10} ?.{0,30}") {
        let _ = command::parse(&line);
        let _ = unescape(&line);
    }

    /// No text makes a unit parser panic.
    #[test]
    fn unit_parsers_never_panic(text in ".{0,24}") {
        let _ = units::parse_duration(&text);
        let _ = units::parse_rate(&text);
        let _ = text.parse::<units::Percent>();
        let _ = units::parse_host_port(&text, 0);
        let _ = units::parse_in_range(&text, 1, 65536usize);
    }
}
