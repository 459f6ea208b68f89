//! Latency statistics: percentiles from an HDR histogram, exact min/max/mean/stddev, jitter.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::units;

/// Highest RTT the histogram tracks (one hour); larger values are clamped, never dropped.
const MAX_TRACKED_NS: u64 = 3_600_000_000_000;

/// Accumulates RTT samples in arrival order and summarises them on demand.
///
/// Percentiles come from an HDR histogram in nanoseconds, read at the middle of a value's
/// bucket (so within half a bucket either way, never biased upwards); min, max, mean and
/// standard deviation are kept exactly, since they are cheap and people compare them with
/// other tools. Two resolutions: [`RttStats::new`] for the many histograms of a bench,
/// [`RttStats::precise`] for one stream of round trips, whose delayed RTTs must be exact to
/// the tens of microseconds.
#[derive(Debug, Clone)]
pub struct RttStats {
    histogram: Histogram<u64>,
    count: u64,
    min_ns: u64,
    max_ns: u64,
    /// Welford's running mean and sum of squared deviations, in nanoseconds.
    mean_ns: f64,
    m2: f64,
    last: Option<Duration>,
    jitter_sum_ns: f64,
    jitter_pairs: u64,
}

/// The percentile ladder in microseconds (to the nanosecond), the shape of `rtt_us` in the
/// JSON contract.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RttSummary {
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub stddev: f64,
}

impl Default for RttStats {
    fn default() -> Self {
        Self::new()
    }
}

impl RttStats {
    /// An empty accumulator with 3 significant digits (within 0.05%: sub-microsecond on
    /// loopback, 50 µs at 100 ms). Auto-resizing, it grows only as far as the largest RTT
    /// seen, so a bench with a thousand connections (one each) keeps ~50 KB each.
    pub fn new() -> Self {
        Self::with_digits(3)
    }

    /// An empty accumulator with 4 significant digits (within 0.005%: 5 µs at 100 ms), for a
    /// single stream (`ping`, the UI): `ping --delay 50ms` is judged to within 100 µs, which
    /// 3 digits could not resolve. It costs ~2 MB at a 100 ms RTT, fine once per stream.
    pub fn precise() -> Self {
        Self::with_digits(4)
    }

    fn with_digits(digits: u8) -> Self {
        Self {
            // 3 and 4 are within hdrhistogram's 0..=5, so this cannot fail.
            histogram: Histogram::new(digits).expect("3 or 4 significant digits are valid"),
            count: 0,
            min_ns: u64::MAX,
            max_ns: 0,
            mean_ns: 0.0,
            m2: 0.0,
            last: None,
            jitter_sum_ns: 0.0,
            jitter_pairs: 0,
        }
    }

    /// Adds one RTT. Call in arrival order: jitter compares each sample with the previous one.
    pub fn record(&mut self, rtt: Duration) {
        let ns = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX).max(1);
        let value = ns.min(MAX_TRACKED_NS);
        // `record` grows the histogram to fit (`saturating_record` would clamp instead);
        // it can only fail if growing does, and then clamping is the best left to do.
        if self.histogram.record(value).is_err() {
            self.histogram.saturating_record(value);
        }
        self.count += 1;
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
        let delta = ns as f64 - self.mean_ns;
        self.mean_ns += delta / self.count as f64;
        self.m2 += delta * (ns as f64 - self.mean_ns);
        if let Some(previous) = self.last {
            self.jitter_sum_ns += rtt.abs_diff(previous).as_nanos() as f64;
            self.jitter_pairs += 1;
        }
        self.last = Some(rtt);
    }

    /// How many RTTs were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The most recent RTT.
    pub fn last(&self) -> Option<Duration> {
        self.last
    }

    /// The summary in microseconds, or `None` when nothing was recorded (JSON `null`).
    pub fn summary(&self) -> Option<RttSummary> {
        if self.count == 0 {
            return None;
        }
        // The histogram answers with the top of a value's bucket, which overstates by up to
        // a whole bucket: take its middle instead, clamped so that min ≤ p50 ≤ p99 ≤ max.
        let at = |q: f64| {
            let top = self.histogram.value_at_quantile(q);
            let ns = self
                .histogram
                .median_equivalent(top)
                .clamp(self.min_ns, self.max_ns);
            us(ns as f64)
        };
        Some(RttSummary {
            min: us(self.min_ns as f64),
            mean: us(self.mean_ns),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
            max: us(self.max_ns as f64),
            stddev: us((self.m2 / self.count as f64).sqrt()),
        })
    }

    /// Mean absolute difference of consecutive RTTs in arrival order (RFC 3550 style), in µs
    /// to the nanosecond. `None` until two samples exist.
    pub fn jitter_us(&self) -> Option<f64> {
        (self.jitter_pairs > 0).then(|| us(self.jitter_sum_ns / self.jitter_pairs as f64))
    }

    /// Adds every sample of `other`, so `bench` can measure per connection without sharing
    /// anything on the hot path and combine at the end.
    ///
    /// Jitter stays the mean over consecutive pairs *within* each source (the sums and pair
    /// counts add up): RTTs of two different connections were never consecutive in any
    /// stream, so no pair spans them. `last` stays ours when we have one.
    pub fn merge(&mut self, other: &RttStats) {
        if other.count == 0 {
            return;
        }
        // Both histograms auto-resize (see `new`), so `other` always fits: `add` cannot fail.
        self.histogram
            .add(&other.histogram)
            .expect("auto-resizing histograms always add");
        // Chan et al.'s parallel form of Welford's update: exact mean and M2 of the union.
        let count = self.count + other.count;
        let delta = other.mean_ns - self.mean_ns;
        let weight = other.count as f64 / count as f64;
        self.mean_ns += delta * weight;
        self.m2 += other.m2 + delta * delta * self.count as f64 * weight;
        self.count = count;
        self.min_ns = self.min_ns.min(other.min_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
        self.last = self.last.or(other.last);
        self.jitter_sum_ns += other.jitter_sum_ns;
        self.jitter_pairs += other.jitter_pairs;
    }
}

/// One bar of a latency histogram: RTTs in `[from_us, to_us)` (the last bar includes `to_us`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub from_us: f64,
    pub to_us: f64,
    pub count: u64,
}

impl RttStats {
    /// The RTTs as `bars` buckets spaced logarithmically from min to max: latency spreads
    /// over orders of magnitude (a 20 µs loopback echo, a 40 ms delayed ACK), and equal-width
    /// buckets would crowd everything interesting into the first bar. Empty when nothing was
    /// recorded. Counts come from the HDR histogram, so a value lands within 0.1% of its bucket.
    pub fn distribution(&self, bars: usize) -> Vec<Bucket> {
        if self.count == 0 || bars == 0 {
            return Vec::new();
        }
        let (low, high) = (
            self.min_ns as f64,
            (self.max_ns as f64).max(self.min_ns as f64 + 1.0),
        );
        let ratio = (high / low).powf(1.0 / bars as f64);
        let edges: Vec<f64> = (0..=bars).map(|i| low * ratio.powi(i as i32)).collect();
        let mut buckets: Vec<Bucket> = edges
            .windows(2)
            .map(|edge| Bucket {
                from_us: us(edge[0]),
                to_us: us(edge[1]),
                count: 0,
            })
            .collect();
        for value in self.histogram.iter_recorded() {
            let ns = (value.value_iterated_to() as f64).clamp(low, high);
            let at = ((ns / low).ln() / ratio.ln()).floor() as usize;
            buckets[at.min(bars - 1)].count += value.count_at_value();
        }
        buckets
    }
}

/// Nanoseconds as the microseconds every figure and record gives: to the nanosecond, so
/// `rtt_us` and `jitter_us` say `36.84`, never `36.839999999999996`.
fn us(ns: f64) -> f64 {
    units::json_figure(ns / 1_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_of(us_samples: &[u64]) -> RttStats {
        let mut stats = RttStats::new();
        for &v in us_samples {
            stats.record(Duration::from_micros(v));
        }
        stats
    }

    fn close(a: f64, b: f64) -> bool {
        // hdrhistogram with 3 significant digits: within 0.1%.
        (a - b).abs() <= b.abs() * 0.001 + 1e-9
    }

    #[test]
    fn empty_has_no_summary_and_no_jitter() {
        let stats = RttStats::new();
        assert_eq!(stats.summary(), None);
        assert_eq!(stats.jitter_us(), None);
        assert_eq!(stats.count(), 0);
    }

    #[test]
    fn ladder_matches_hand_computed_values() {
        // 1..=100 µs: p50 = 50, p90 = 90, p99 = 99, p99.9 = 100, mean 50.5,
        // population stddev = sqrt((100² − 1) / 12) = 28.866…
        let samples: Vec<u64> = (1..=100).collect();
        let s = stats_of(&samples).summary().unwrap();
        assert!(close(s.min, 1.0), "{s:?}");
        assert!(close(s.max, 100.0), "{s:?}");
        assert!(close(s.mean, 50.5), "{s:?}");
        assert!(close(s.p50, 50.0), "{s:?}");
        assert!(close(s.p90, 90.0), "{s:?}");
        assert!(close(s.p99, 99.0), "{s:?}");
        assert!(close(s.p999, 100.0), "{s:?}");
        assert!((s.stddev - 28.866).abs() < 0.001, "{s:?}");
    }

    /// A 100 ms round trip judged to within 100 µs (`ping --delay 50ms`) needs the precise
    /// histogram: 3 digits' buckets there are 65 µs wide.
    #[test]
    fn a_precise_histogram_resolves_a_delayed_rtt_to_microseconds() {
        let mut precise = RttStats::precise();
        let mut coarse = RttStats::new();
        // Half the samples at 100.010 ms, half at 100.090 ms: p50 is the lower one.
        for micros in [100_010, 100_090].repeat(50) {
            precise.record(Duration::from_micros(micros));
            coarse.record(Duration::from_micros(micros));
        }
        let p50 = precise.summary().unwrap().p50;
        assert!((p50 - 100_010.0).abs() <= 5.0, "precise p50 {p50}");
        let p50 = coarse.summary().unwrap().p50;
        assert!(
            (p50 - 100_010.0).abs() > 5.0,
            "coarse p50 {p50}: the test proves nothing"
        );
    }

    /// The top of a bucket would overstate every percentile by up to a whole bucket; its
    /// middle errs by at most half of one, either way.
    #[test]
    fn percentiles_are_read_at_the_middle_of_their_bucket() {
        // With 3 digits, RTTs between 67 and 134 ms fall in buckets of 65,536 ns; this one
        // starts at 99,942,400 ns. A value just above that start: the top would say +64.5 µs.
        let mut stats = RttStats::new();
        for ns in [99_943_400, 99_943_400, 99_943_400, 100_500_000] {
            stats.record(Duration::from_nanos(ns));
        }
        let p50 = stats.summary().unwrap().p50;
        assert!((p50 - 99_943.4).abs() <= 32.8, "p50 {p50}");
    }

    #[test]
    fn figures_are_given_to_the_nanosecond_without_float_noise() {
        // 1, 2, 2 µs: mean 1.666… µs, stddev √(2/9) = 0.4714… µs.
        let s = stats_of(&[1, 2, 2]).summary().unwrap();
        assert_eq!((s.mean, s.stddev), (1.667, 0.471), "{s:?}");
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains(r#""mean":1.667,"#), "{json}");
    }

    #[test]
    fn sub_microsecond_resolution_is_kept() {
        let mut stats = RttStats::new();
        stats.record(Duration::from_nanos(41_200));
        let s = stats.summary().unwrap();
        assert_eq!(s.min, 41.2);
        assert!(close(s.p50, 41.2), "{s:?}");
    }

    #[test]
    fn jitter_is_mean_abs_difference_in_arrival_order() {
        // |20−10| + |10−20| + |40−10| = 50 over 3 pairs: 16.666… µs, to the nanosecond.
        let stats = stats_of(&[10, 20, 10, 40]);
        assert_eq!(stats.jitter_us(), Some(16.667));
        // The same samples sorted would give a much smaller (wrong) jitter: 10.
        let sorted = stats_of(&[10, 10, 20, 40]);
        assert!((sorted.jitter_us().unwrap() - 10.0).abs() < 1e-9);
        assert_eq!(stats_of(&[5]).jitter_us(), None);
    }

    #[test]
    fn percentiles_never_exceed_the_exact_extremes() {
        let mut stats = RttStats::new();
        for ns in [133_098, 160_895, 222_244] {
            stats.record(Duration::from_nanos(ns));
        }
        let s = stats.summary().unwrap();
        assert!(s.p99 <= s.max && s.p999 <= s.max && s.p50 >= s.min, "{s:?}");
        assert_eq!(s.max, 222.244);
    }

    #[test]
    fn merge_equals_recording_everything_except_jitter_across_sources() {
        let (a, b) = ([10, 20, 10, 40], [100, 130, 70]);
        let mut merged = stats_of(&a);
        merged.merge(&stats_of(&b));
        let all = stats_of(&[&a[..], &b[..]].concat());
        assert_eq!(merged.count(), 7);
        let (m, e) = (merged.summary().unwrap(), all.summary().unwrap());
        for (got, want) in [
            (m.min, e.min),
            (m.mean, e.mean),
            (m.p50, e.p50),
            (m.p90, e.p90),
            (m.p99, e.p99),
            (m.p999, e.p999),
            (m.max, e.max),
            (m.stddev, e.stddev),
        ] {
            assert!((got - want).abs() < 1e-9, "merged {m:?}, recorded {e:?}");
        }
        // Pairs within each source only: (10 + 10 + 30) + (30 + 60) over 3 + 2 pairs. The
        // 40 → 100 step between sources is not a pair (recording all in one would count it).
        assert!((merged.jitter_us().unwrap() - 140.0 / 5.0).abs() < 1e-9);
        assert_eq!(merged.last(), Some(Duration::from_micros(40)));
    }

    #[test]
    fn merge_with_empty_on_either_side() {
        let mut empty = RttStats::new();
        empty.merge(&stats_of(&[5, 9]));
        assert_eq!(empty.summary(), stats_of(&[5, 9]).summary());
        assert_eq!(empty.jitter_us(), Some(4.0));
        assert_eq!(empty.last(), Some(Duration::from_micros(9)));
        let mut one = stats_of(&[5]);
        one.merge(&RttStats::new());
        assert_eq!(one.summary(), stats_of(&[5]).summary());
        assert_eq!(one.jitter_us(), None);
    }

    #[test]
    fn distribution_buckets_are_logarithmic_and_count_everything() {
        // 10 µs to 1000 µs in two buckets: [10, 100) and [100, 1000].
        let stats = stats_of(&[10, 20, 50, 99, 100, 500, 1000]);
        let buckets = stats.distribution(2);
        assert_eq!(buckets.len(), 2);
        assert!(
            close(buckets[0].from_us, 10.0) && close(buckets[0].to_us, 100.0),
            "{buckets:?}"
        );
        assert!(close(buckets[1].to_us, 1000.0), "{buckets:?}");
        assert_eq!(buckets[0].count, 4, "{buckets:?}");
        assert_eq!(buckets[1].count, 3, "{buckets:?}");
        assert!(RttStats::new().distribution(10).is_empty());
        // A single value: one full bucket, no division by zero.
        let one = stats_of(&[42]).distribution(4);
        assert_eq!(one.iter().map(|b| b.count).sum::<u64>(), 1);
    }

    #[test]
    fn constant_rtt_has_zero_spread() {
        let stats = stats_of(&[87, 87, 87]);
        let s = stats.summary().unwrap();
        assert_eq!(s.stddev, 0.0);
        assert_eq!(stats.jitter_us(), Some(0.0));
        assert_eq!(stats.last(), Some(Duration::from_micros(87)));
    }
}
