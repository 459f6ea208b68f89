//! Numbers as people read them: one function per unit, shared by the UI and headless output.

use std::time::Duration;

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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn byte_counts() {
        assert_eq!(bytes(13), "13 B");
        assert_eq!(bytes(4096), "4096 B");
        assert_eq!(bytes(120_000), "117.2 KiB");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
    }

    #[test]
    fn ages() {
        assert_eq!(age(Duration::from_secs(42)), "42s");
        assert_eq!(age(Duration::from_secs(185)), "3m05s");
        assert_eq!(age(Duration::from_secs(7800)), "2h10m");
    }
}
