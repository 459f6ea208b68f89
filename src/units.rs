//! Units as people write and read them: durations, percentages, byte rates, sizes and
//! `HOST:PORT`, parsed and formatted in one place.
//!
//! This module sits below every layer: the command line, the `/commands` typed in the UI,
//! the impairment proxy and every pane use the same parsers and formatters, so `/delay 50ms`
//! and `--delay 50ms` accept the same words and every pane writes `87µs` the same way.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Formatting for people
// ---------------------------------------------------------------------------------------------

/// A duration with a unit that keeps three significant digits: `87µs`, `1.23ms`, `2.50s`.
pub fn duration(d: Duration) -> String {
    micros(d.as_secs_f64() * 1e6)
}

/// Microseconds (as in the JSON) with an adaptive unit.
pub fn micros(us: f64) -> String {
    if us < 1.0 {
        format!("{:.0}ns", us * 1000.0)
    } else if us < 10.0 {
        format!("{us:.1}µs")
    } else if us < 1000.0 {
        format!("{us:.0}µs")
    } else if us < 10_000.0 {
        format!("{:.2}ms", us / 1e3)
    } else if us < 1_000_000.0 {
        format!("{:.1}ms", us / 1e3)
    } else {
        format!("{:.2}s", us / 1e6)
    }
}

/// A byte count, exact while it is short enough to read at a glance (`13 B`, `4096 B`),
/// then `117.2 KiB`, `1.5 MiB`: a student should see that 1024 + 1024 + 2048 = 4096.
pub fn bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let f = n as f64;
    if n < 100_000 {
        format!("{n} B")
    } else if f < KIB * KIB {
        format!("{:.1} KiB", f / KIB)
    } else if f < KIB * KIB * KIB {
        format!("{:.1} MiB", f / (KIB * KIB))
    } else {
        format!("{:.1} GiB", f / (KIB * KIB * KIB))
    }
}

/// An age or uptime, coarse: `42s`, `3m05s`, `2h10m`.
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `1 connection`, `3 connections`: a count with its noun in the right number.
pub fn count(n: u64, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// A figure for JSON, rounded to three decimals (microseconds to the nanosecond, seconds to
/// the millisecond), so a record says `36.84`, never `36.839999999999996`.
pub fn json_figure(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// A duration for JSON: microseconds to the nanosecond.
pub fn json_micros(duration: Duration) -> f64 {
    json_figure(duration.as_secs_f64() * 1e6)
}

/// A setting's duration, short and in a syntax both `--delay` and `tc` accept: `2s`, `50ms`,
/// `1.5ms`, `0.25ms`.
pub fn setting_duration(duration: Duration) -> String {
    let micros = duration.as_micros();
    if micros >= 1_000_000 && micros % 1_000_000 == 0 {
        return format!("{}s", micros / 1_000_000);
    }
    let whole = micros / 1000;
    let fraction = micros % 1000;
    if fraction == 0 {
        format!("{whole}ms")
    } else {
        let fraction = format!("{fraction:03}");
        format!("{whole}.{}ms", fraction.trim_end_matches('0'))
    }
}

/// `10 kB/s`, `64 KiB/s`, `1.5 MB/s`: the exact unit when one divides the rate, else decimal.
pub fn rate(bytes_per_second: u64) -> String {
    const EXACT: [(u64, &str); 6] = [
        (1_000_000_000, "GB"),
        (1 << 30, "GiB"),
        (1_000_000, "MB"),
        (1 << 20, "MiB"),
        (1_000, "kB"),
        (1 << 10, "KiB"),
    ];
    let rate = bytes_per_second;
    if let Some((size, unit)) = EXACT
        .iter()
        .find(|(size, _)| rate >= *size && rate % size == 0)
    {
        return format!("{} {unit}/s", rate / size);
    }
    let (size, unit) = [(1_000_000_000, "GB"), (1_000_000, "MB"), (1_000, "kB")]
        .into_iter()
        .find(|(size, _)| rate >= *size)
        .unwrap_or((1, "B"));
    let value = format!("{:.2}", rate as f64 / size as f64);
    let value = value.trim_end_matches('0').trim_end_matches('.');
    format!("{value} {unit}/s")
}

/// `80kbit`: `tc`'s unit for a rate in bits per second, the largest one that is exact.
pub fn tc_bits(bits: u128) -> String {
    [
        (1_000_000_000, "gbit"),
        (1_000_000, "mbit"),
        (1_000, "kbit"),
    ]
    .into_iter()
    .find(|(size, _)| bits >= *size && bits % size == 0)
    .map_or_else(
        || format!("{bits}bit"),
        |(size, unit)| format!("{}{unit}", bits / size),
    )
}

// ---------------------------------------------------------------------------------------------
// Parsing what people type
// ---------------------------------------------------------------------------------------------

/// The longest duration any option takes: far beyond any use, and far enough from the limits
/// of `Instant` arithmetic that adding it to "now" can never overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// humantime durations (`250ms`, `2s`, `1m`), up to a year; `0` means zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    let duration = humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e} (examples: 250ms, 2s, 1m)"))?;
    if duration > MAX_DURATION {
        return Err(format!("'{}' is more than a year", s.trim()));
    }
    Ok(duration)
}

/// A duration that must be more than zero (a timeout, a run's length).
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        Duration::ZERO => Err("must be more than 0".into()),
        d => Ok(d),
    }
}

/// Parses a whole number in `min..=max`; shared by every size flag and `/command`. When `max`
/// is no real limit (a count), the message says only "at least `min`".
pub fn parse_in_range<T>(s: &str, min: T, max: T) -> Result<T, String>
where
    T: FromStr + PartialOrd + Copy + fmt::Display + Bounded,
{
    match s.trim().parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ if max == T::MAX => Err(format!(
            "must be a whole number, at least {min} (got '{s}')"
        )),
        _ => Err(format!(
            "must be a whole number from {min} to {max} (got '{s}')"
        )),
    }
}

/// The largest value of an integer type, so [`parse_in_range`] can tell "no upper limit".
pub trait Bounded {
    /// The type's largest value.
    const MAX: Self;
}

impl Bounded for usize {
    const MAX: Self = usize::MAX;
}

impl Bounded for u64 {
    const MAX: Self = u64::MAX;
}

impl Bounded for u32 {
    const MAX: Self = u32::MAX;
}

/// Validates `HOST:PORT` syntax and the port range (from `min_port`: 0 lets the OS pick); the
/// host is resolved later, at use.
pub fn parse_host_port(s: &str, min_port: u16) -> Result<String, String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("expected HOST:PORT, e.g. 127.0.0.1:12345 (got '{s}')"))?;
    if host.is_empty() {
        return Err(format!("missing host in '{s}'"));
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.contains(':') && !s.starts_with('[') {
        return Err(format!(
            "write IPv6 addresses in brackets, e.g. [{host}]:{port}"
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p >= min_port => Ok(s.to_owned()),
        _ => Err(format!("port must be {min_port}..=65535 (got '{port}')")),
    }
}

/// Parses a rate in bytes per second for `--rate` and `/rate`: `10kB/s`, `1MB/s`, `500B/s`,
/// `1000`, `64KiB/s` (k, M, G are powers of 1000; Ki, Mi, Gi powers of 1024).
pub fn parse_rate(s: &str) -> Result<u64, String> {
    const EXPECTED: &str = "expected bytes per second such as 10kB/s, 1MB/s, 64KiB/s or 500";
    let fail = |why: &str| format!("invalid rate '{s}': {why}");
    let text = s.trim();
    let unit_at = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(unit_at);
    let unit = unit.trim();
    let unit = unit.strip_suffix("/s").unwrap_or(unit);
    let unit = unit.strip_suffix('B').unwrap_or(unit);
    let multiplier: u64 = match unit {
        "" => 1,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        _ => return Err(fail(EXPECTED)),
    };
    let Ok(number) = number.parse::<f64>() else {
        return Err(fail(EXPECTED));
    };
    let bytes_per_second = (number * multiplier as f64).round();
    if bytes_per_second < 1.0 {
        return Err(fail("a rate must be at least 1 B/s"));
    }
    // u64::MAX as f64 is 2^64, the first value that does not fit.
    if bytes_per_second >= u64::MAX as f64 {
        return Err(fail("too large"));
    }
    Ok(bytes_per_second as u64)
}

/// A probability in percent, validated once (0 to 100) so nothing downstream meets 150%.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Percent(f64);

/// Why a percentage was refused; the message is written for the `error:` line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PercentError {
    #[error("'{0}' is not a percentage (expected e.g. 10%, 0.5% or 10)")]
    NotANumber(String),
    #[error("{0}% is out of range: a percentage is between 0% and 100%")]
    OutOfRange(f64),
}

impl Percent {
    /// Never: the value of every impairment that is off.
    pub const ZERO: Percent = Percent(0.0);

    /// Validates a percentage given as a number (`10.0` is 10%).
    pub fn new(value: f64) -> Result<Self, PercentError> {
        if !value.is_finite() {
            return Err(PercentError::NotANumber(value.to_string()));
        }
        if !(0.0..=100.0).contains(&value) {
            return Err(PercentError::OutOfRange(value));
        }
        // `+ 0.0` turns -0 into 0, so "-0" never shows as "-0%".
        Ok(Percent(value + 0.0))
    }

    /// The percentage as a number (`10.0` for 10%).
    pub fn get(self) -> f64 {
        self.0
    }

    /// Whether this is 0%.
    pub fn is_zero(self) -> bool {
        self.0 == 0.0
    }
}

impl FromStr for Percent {
    type Err = PercentError;

    /// Accepts `10%`, `10`, `0.5%` (spaces allowed around the number).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let number = text.strip_suffix('%').unwrap_or(text).trim();
        match number.parse::<f64>() {
            Ok(value) if value.is_finite() => Percent::new(value),
            _ => Err(PercentError::NotANumber(s.to_owned())),
        }
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percent(value: f64) -> Percent {
        Percent::new(value).unwrap()
    }

    #[test]
    fn durations_keep_three_digits() {
        assert_eq!(micros(0.5), "500ns");
        assert_eq!(micros(5.25), "5.2µs");
        assert_eq!(micros(87.4), "87µs");
        assert_eq!(micros(1234.0), "1.23ms");
        assert_eq!(micros(45_600.0), "45.6ms");
        assert_eq!(micros(2_500_000.0), "2.50s");
        assert_eq!(duration(Duration::from_micros(85)), "85µs");
    }

    #[test]
    fn byte_counts_ages_and_counted_nouns() {
        assert_eq!(bytes(13), "13 B");
        assert_eq!(bytes(4096), "4096 B");
        assert_eq!(bytes(120_000), "117.2 KiB");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
        assert_eq!(age(Duration::from_secs(42)), "42s");
        assert_eq!(age(Duration::from_secs(185)), "3m05s");
        assert_eq!(age(Duration::from_secs(7800)), "2h10m");
        assert_eq!(count(1, "connection", "connections"), "1 connection");
        assert_eq!(count(0, "connection", "connections"), "0 connections");
    }

    #[test]
    fn json_figures_lose_the_float_noise() {
        assert_eq!(json_figure(36.839_999_999_999_996), 36.84);
        assert_eq!(json_figure(0.000_4), 0.0);
        assert_eq!(json_figure(12.345_678), 12.346);
        assert_eq!(json_figure(0.1 + 0.2).to_string(), "0.3");
        assert_eq!(json_micros(Duration::from_nanos(36_840)), 36.84);
    }

    #[test]
    fn settings_read_naturally() {
        assert_eq!(rate(999), "999 B/s");
        assert_eq!(rate(1_000_000), "1 MB/s");
        assert_eq!(rate(1 << 20), "1 MiB/s");
        assert_eq!(rate(1_234_567), "1.23 MB/s");
        assert_eq!(setting_duration(Duration::ZERO), "0ms");
        assert_eq!(setting_duration(Duration::from_micros(250)), "0.25ms");
        assert_eq!(setting_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(setting_duration(Duration::from_secs(2)), "2s");
        assert_eq!(tc_bits(80_000), "80kbit");
        assert_eq!(tc_bits(8184), "8184bit");
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration(" 1m "), Ok(Duration::from_secs(60)));
        assert!(parse_duration("-1s").is_err());
        assert_eq!(
            parse_duration("1000000y"),
            Err("'1000000y' is more than a year".into())
        );
        assert!(parse_positive_duration("0").is_err());
    }

    #[test]
    fn whole_numbers_in_range_say_what_is_allowed() {
        assert_eq!(parse_in_range("7", 1, 65536usize), Ok(7));
        assert_eq!(
            parse_in_range("0", 1, 65536usize),
            Err("must be a whole number from 1 to 65536 (got '0')".into())
        );
        assert_eq!(
            parse_in_range("0", 1, u64::MAX),
            Err("must be a whole number, at least 1 (got '0')".into())
        );
        assert!(parse_in_range("x", 1, 10usize).is_err());
        assert!(parse_in_range("-1", 0, 10u32).is_err());
    }

    #[test]
    fn host_port_syntax() {
        for ok in [
            "127.0.0.1:12345",
            "localhost:7",
            "[::1]:7",
            "example.org:65535",
        ] {
            assert_eq!(parse_host_port(ok, 1).as_deref(), Ok(ok));
        }
        for bad in [
            "127.0.0.1",
            ":80",
            "host:0",
            "host:70000",
            "host:http",
            "::1:7",
        ] {
            assert!(parse_host_port(bad, 1).is_err(), "{bad} should be rejected");
        }
        assert!(parse_host_port("127.0.0.1:0", 0).is_ok());
    }

    #[test]
    fn percent_accepts_numbers_with_or_without_the_sign() {
        for (text, value) in [
            ("10%", 10.0),
            ("10", 10.0),
            ("0.5%", 0.5),
            (" 100 % ", 100.0),
            ("0", 0.0),
            ("-0", 0.0),
        ] {
            assert_eq!(text.parse::<Percent>(), Ok(percent(value)), "{text}");
        }
        assert_eq!("-0".parse::<Percent>().unwrap().to_string(), "0%");
    }

    #[test]
    fn percent_refuses_out_of_range_and_garbage_in_words() {
        let message = |text: &str| text.parse::<Percent>().unwrap_err().to_string();
        assert_eq!(
            message("150%"),
            "150% is out of range: a percentage is between 0% and 100%"
        );
        assert_eq!(
            message("-1"),
            "-1% is out of range: a percentage is between 0% and 100%"
        );
        assert_eq!(
            message("abc"),
            "'abc' is not a percentage (expected e.g. 10%, 0.5% or 10)"
        );
        for text in ["", "%", "10%%", "inf", "NaN", "1O%"] {
            assert!(text.parse::<Percent>().is_err(), "{text:?} accepted");
        }
        assert!(Percent::new(f64::NAN).is_err());
    }

    #[test]
    fn rate_accepts_bytes_per_second_with_decimal_and_binary_units() {
        for (text, rate) in [
            ("10kB/s", 10_000),
            ("1MB/s", 1_000_000),
            ("500B/s", 500),
            ("1000", 1000),
            ("64KiB/s", 65_536),
            ("1MiB/s", 1 << 20),
            ("1.5kB/s", 1500),
            ("10 kB/s", 10_000),
            ("10k", 10_000),
            ("2GB/s", 2_000_000_000),
        ] {
            assert_eq!(parse_rate(text), Ok(rate), "{text}");
        }
    }

    #[test]
    fn rate_refuses_garbage_zero_and_bits() {
        assert_eq!(
            parse_rate("fast").unwrap_err(),
            "invalid rate 'fast': expected bytes per second such as 10kB/s, 1MB/s, 64KiB/s or 500"
        );
        assert_eq!(
            parse_rate("0").unwrap_err(),
            "invalid rate '0': a rate must be at least 1 B/s"
        );
        for text in [
            "",
            "kB/s",
            "-5",
            "10kb/s",
            "10kbit",
            "1.2.3kB/s",
            "10 MB/h",
            "99999999999G",
        ] {
            assert!(parse_rate(text).is_err(), "{text:?} accepted");
        }
    }
}
