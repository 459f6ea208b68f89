//! How the screen looks, as state `update` changes (`/theme`, `/presenter`) and `draw` reads:
//! the theme, presenter mode and address masking. The palettes themselves are the view's
//! business ([`crate::ui::theme`]).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A colour scheme. Every scheme says state in words as well as colour, and `NO_COLOR` turns
/// colour off whichever is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThemeName {
    /// Tuned for a dark terminal: the terminal's own background, bright text colours.
    #[default]
    Dark,
    /// Dark text on a light background, for light terminals and bright rooms.
    Light,
    /// White and bright colours on black, bold: what a washed-out projector still shows.
    HighContrast,
    /// The Okabe–Ito palette: distinguishable with every common colour-vision deficiency;
    /// never red against green alone.
    Colorblind,
}

impl ThemeName {
    /// Every theme, in the order help and completions list them.
    pub const ALL: [ThemeName; 4] = [
        ThemeName::Dark,
        ThemeName::Light,
        ThemeName::HighContrast,
        ThemeName::Colorblind,
    ];

    /// The name typed after `--theme` and `/theme`.
    pub fn name(self) -> &'static str {
        match self {
            ThemeName::Dark => "dark",
            ThemeName::Light => "light",
            ThemeName::HighContrast => "high-contrast",
            ThemeName::Colorblind => "colorblind",
        }
    }

    /// One line for help and completions.
    pub fn describe(self) -> &'static str {
        match self {
            ThemeName::Dark => "for a dark terminal (the default)",
            ThemeName::Light => "dark text on a light background",
            ThemeName::HighContrast => "white and bright colours on black, for projectors",
            ThemeName::Colorblind => "Okabe–Ito colours, safe for colour-blind viewers",
        }
    }

    /// `dark|light|high-contrast|colorblind`, for usage lines and errors.
    pub fn choices() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|t| t.name()).collect();
        names.join("|")
    }
}

impl fmt::Display for ThemeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ThemeName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|theme| theme.name() == s)
            .ok_or_else(|| format!("unknown theme '{s}' (themes: {})", Self::choices()))
    }
}

/// The view settings in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ViewSettings {
    /// The theme chosen (`--theme`, the config file, `/theme`); `None` lets presenter mode
    /// pick high contrast.
    pub theme: Option<ThemeName>,
    /// Readable from the back row: bold, fewer columns, big latency numbers.
    pub presenter: bool,
    /// `--mask-addresses`: every peer shows as `student-NN`.
    pub mask_addresses: bool,
    /// Whether the program captures the mouse (the help then says how to select text).
    pub mouse: bool,
}

impl ViewSettings {
    /// The theme to draw with.
    pub fn theme(&self) -> ThemeName {
        match (self.theme, self.presenter) {
            (Some(theme), _) => theme,
            (None, true) => ThemeName::HighContrast,
            (None, false) => ThemeName::Dark,
        }
    }

    /// Whether a peer at `ip` is shown as `student-NN`: always with `--mask-addresses`, and
    /// in presenter mode for every peer not on this machine, so a projector never shows a
    /// student's address.
    pub fn masks(&self, ip: IpAddr) -> bool {
        self.mask_addresses || (self.presenter && !ip.is_loopback())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_choices() {
        for theme in ThemeName::ALL {
            assert_eq!(theme.name().parse::<ThemeName>(), Ok(theme));
        }
        let err = "solarized".parse::<ThemeName>().unwrap_err();
        assert_eq!(
            err,
            "unknown theme 'solarized' (themes: dark|light|high-contrast|colorblind)"
        );
    }

    #[test]
    fn presenter_mode_defaults_to_high_contrast_and_masks_remote_peers() {
        let mut view = ViewSettings::default();
        assert_eq!(view.theme(), ThemeName::Dark);
        let (remote, local) = ("192.0.2.7".parse().unwrap(), "127.0.0.1".parse().unwrap());
        assert!(!view.masks(remote));
        view.presenter = true;
        assert_eq!(view.theme(), ThemeName::HighContrast);
        assert!(view.masks(remote) && !view.masks(local));
        view.theme = Some(ThemeName::Light);
        assert_eq!(view.theme(), ThemeName::Light, "a chosen theme wins");
        view.mask_addresses = true;
        assert!(view.masks(local));
    }
}
