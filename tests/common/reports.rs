//! Checks on the JSON reports `ping --json` and `bench --json` print (README, "Output and
//! exit codes"): one shape for the round-trip times of both; and on the `ts` of the lines
//! `serve --headless --json` writes.

use serde_json::Value;

/// The keys of a JSON object, in the order they were written.
pub fn keys(object: &Value) -> Vec<&str> {
    object
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {object}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// Asserts that `rtt` is the percentile ladder, in order, with figures that climb it:
/// `0 < min <= p50 <= p99 <= max`.
pub fn assert_rtt_ladder(rtt: &Value) {
    assert_eq!(
        keys(rtt),
        ["min", "mean", "p50", "p90", "p99", "p999", "max", "stddev"]
    );
    let get = |k: &str| rtt[k].as_f64().unwrap_or_else(|| panic!("{k}: {rtt}"));
    assert!(
        0.0 < get("min")
            && get("min") <= get("p50")
            && get("p50") <= get("p99")
            && get("p99") <= get("max"),
        "{rtt}"
    );
}

/// Asserts that every float in `v`, however deep, is written with three decimals at most:
/// `36.84`, never `36.839999999999996` (times in µs are given to the nanosecond).
pub fn assert_three_decimals_at_most(v: &Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            let text = n.to_string();
            let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
            assert!(
                decimals <= 3 && !text.contains('e'),
                "{text} has more than three decimals"
            );
        }
        Value::Array(items) => items.iter().for_each(assert_three_decimals_at_most),
        Value::Object(fields) => fields.values().for_each(assert_three_decimals_at_most),
        _ => {}
    }
}

/// Asserts that `ts` is RFC 3339 with microseconds, as every `serve --headless --json` line has.
pub fn assert_timestamp(line: &Value) {
    let ts = line["ts"]
        .as_str()
        .unwrap_or_else(|| panic!("no ts: {line}"));
    assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
    assert_eq!(
        ts.split('.').nth(1).unwrap().len(),
        "123456+00:00".len(),
        "µs precision: {ts}"
    );
}
