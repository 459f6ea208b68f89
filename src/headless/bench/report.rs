//! What a bench says when it is done: the `--json` object or a table, errors by kind, and
//! the exit code.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use super::RunSpec;
use crate::headless::TcpInfoReport;
use crate::net::Transport;
use crate::stats::{Clock, ClockCount, RttStats, RttSummary};
use crate::units;

/// One run's `bench --json` object (README, "Measuring"); a comparison of several runs
/// prints an array of them. Figures have three decimals at most (times in µs: to the
/// nanosecond).
#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub target: String,
    pub protocol: &'static str,
    pub connections: usize,
    pub size: usize,
    pub pipeline: usize,
    /// Measured length of the run (after any warm-up).
    pub duration_s: f64,
    /// Messages echoed complete and equal.
    pub messages: u64,
    /// Bytes of those messages, one direction.
    pub bytes: u64,
    pub msgs_per_s: f64,
    pub mib_per_s: f64,
    pub rtt_us: Option<RttSummary>,
    /// Mean difference of consecutive RTTs on each connection; `null` below two RTTs.
    pub jitter_us: Option<f64>,
    pub errors: u64,
    /// The embedded server's model and read size; `null` against a target.
    pub model: Option<String>,
    pub read_size: Option<usize>,
    /// Connections (UDP: sockets) that got at least one echo: the iterative server serves
    /// one at a time, and the others may wait the whole run.
    pub served: usize,
    /// Threads the embedded server ran at the end of the run (the threads model); `null`
    /// against a target.
    pub server_threads: Option<usize>,
    /// echotui's resident memory at the end of the run, server and load together, in KiB
    /// (`null` where the system does not say).
    pub rss_kib: Option<u64>,
    /// Which clock timed the RTTs' ends: `"kernel"` (its receive timestamps) or `"user"`.
    pub clock: &'static str,
    /// Echoes in `rtt_us` timed by our own clock (all of them under `"user"`).
    pub user_clock_echoes: u64,
    /// TCP only: the kernel's view of the first connection's socket at the end (`null` where
    /// not available).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_info: Option<Option<TcpInfoReport>>,
}

/// What one run's connections measured, merged.
#[derive(Debug)]
pub struct Measured {
    pub stats: RttStats,
    pub elapsed: Duration,
    pub errors: ErrorTally,
    /// Connections (UDP: sockets) that got at least one echo.
    pub served: usize,
    /// Which clock timed how many echoes, and the one the sockets were set to.
    pub clocks: ClockCount,
    pub in_force: Clock,
    /// TCP: the first connection's socket at the end; `None` over UDP.
    pub tcp_info: Option<Option<TcpInfoReport>>,
}

/// What one run measured, before it becomes a report.
#[derive(Debug)]
pub struct RunResult {
    pub spec: RunSpec,
    pub target: SocketAddr,
    pub transport: Transport,
    pub measured: Measured,
    /// What only the end of the run can tell: the embedded server's threads (`None` against
    /// a target) and our memory.
    pub server_threads: Option<usize>,
    pub rss_kib: Option<u64>,
}

impl RunResult {
    fn report(&self) -> BenchReport {
        let (spec, measured) = (&self.spec, &self.measured);
        let messages = measured.stats.count();
        let bytes = messages * spec.size as u64;
        let seconds = measured.elapsed.as_secs_f64();
        let per_second = |n: f64| {
            let rate = if seconds > 0.0 { n / seconds } else { 0.0 };
            units::json_figure(rate)
        };
        BenchReport {
            target: self.target.to_string(),
            protocol: match self.transport {
                Transport::Tcp => "tcp",
                Transport::Udp => "udp",
            },
            model: spec.model.map(|model| model.to_string()),
            read_size: spec.read_size,
            connections: spec.connections,
            size: spec.size,
            pipeline: spec.pipeline,
            duration_s: units::json_figure(seconds),
            messages,
            bytes,
            msgs_per_s: per_second(messages as f64),
            mib_per_s: per_second(bytes as f64 / (1 << 20) as f64),
            rtt_us: measured.stats.summary(),
            jitter_us: measured.stats.jitter_us(),
            errors: measured.errors.total(),
            served: measured.served,
            server_threads: self.server_threads,
            rss_kib: self.rss_kib,
            clock: measured.clocks.clock(measured.in_force).name(),
            user_clock_echoes: measured.clocks.user,
            tcp_info: measured.tcp_info,
        }
    }
}

/// Errors by kind, in the order first seen.
#[derive(Debug, Default)]
pub struct ErrorTally {
    kinds: Vec<(String, u64)>,
}

impl ErrorTally {
    /// Counts `n` more errors of kind `what` (none: nothing to say, no entry).
    pub fn add(&mut self, what: &str, n: u64) {
        if n == 0 {
            return;
        }
        match self.kinds.iter_mut().find(|(kind, _)| kind == what) {
            Some((_, count)) => *count += n,
            None => self.kinds.push((what.to_owned(), n)),
        }
    }

    /// Errors of every kind: the `errors` of the report.
    pub fn total(&self) -> u64 {
        self.kinds.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for ErrorTally {
    /// `13 (10 × echo differs from what was sent, 3 × connection reset)`, or `0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.total())?;
        for (i, (what, n)) in self.kinds.iter().enumerate() {
            let open = if i == 0 { " (" } else { ", " };
            write!(f, "{open}{n} × {what}")?;
        }
        if !self.kinds.is_empty() {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Prints the reports (one run: a table or the JSON object; several: a comparison table, or
/// a JSON array) and picks the exit code: 0 if every run measured echoes and nothing went
/// wrong, 1 otherwise.
pub fn report(json: bool, runs: &[RunResult]) -> anyhow::Result<ExitCode> {
    let reports: Vec<BenchReport> = runs.iter().map(RunResult::report).collect();
    let mut out = io::stdout().lock();
    match (json, reports.as_slice()) {
        (true, [one]) => serde_json::to_writer(&mut out, one)?,
        (true, all) => serde_json::to_writer(&mut out, all)?,
        (false, [one]) => write_table(&mut out, one, &runs[0].measured.errors)?,
        (false, all) => {
            write_comparison(&mut out, all)?;
            if io::stdout().is_terminal() {
                write_bars(&mut out, all)?;
            }
        }
    }
    if json {
        writeln!(out)?;
    }
    let mut all_good = !runs.is_empty();
    for (run, report) in runs.iter().zip(&reports) {
        if json || runs.len() > 1 {
            for (what, n) in &run.measured.errors.kinds {
                eprintln!("echotui bench: {} × {what}", n);
            }
        }
        if report.messages == 0 && report.errors == 0 {
            // Nothing failed, yet nothing was measured: say why the exit code is 1.
            eprintln!("echotui bench: no echo came back from {}", run.target);
        }
        all_good &= report.errors == 0 && report.messages > 0;
    }
    Ok(if all_good {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Several runs side by side, one row each. A setting the same in every run is said once
/// above the table instead of repeated in a column, and each column is as wide as its widest
/// cell, so a comparison fits a projector's 80 columns.
fn write_comparison(out: &mut impl Write, reports: &[BenchReport]) -> io::Result<()> {
    let dash = || "-".to_owned();
    let column = |header: &'static str, cell: &dyn Fn(&BenchReport) -> String| Column {
        header,
        cells: reports.iter().map(cell).collect(),
    };
    let ladder = |r: &BenchReport, pick: fn(&RttSummary) -> f64| {
        r.rtt_us
            .as_ref()
            .map_or_else(dash, |s| units::micros(pick(s)))
    };
    let settings = [
        column("model", &|r| r.model.clone().unwrap_or_else(dash)),
        column("conns", &|r| r.connections.to_string()),
        column("size", &|r| units::bytes(r.size as u64)),
        column("pipe", &|r| r.pipeline.to_string()),
        column("read", &|r| {
            r.read_size.map_or_else(dash, |n| n.to_string())
        }),
    ];
    let measured = [
        column("msgs/s", &|r| format!("{:.1}", r.msgs_per_s)),
        column("MiB/s", &|r| format!("{:.2}", r.mib_per_s)),
        column("p50", &|r| ladder(r, |s| s.p50)),
        column("p99", &|r| ladder(r, |s| s.p99)),
        column("errors", &|r| r.errors.to_string()),
        column("served", &|r| format!("{}/{}", r.served, r.connections)),
        column("threads", &|r| {
            r.server_threads.map_or_else(dash, |n| n.to_string())
        }),
        column("rss", &|r| {
            r.rss_kib.map_or_else(dash, |kib| units::bytes(kib * 1024))
        }),
    ];
    let (same, varied): (Vec<Column>, Vec<Column>) = settings
        .into_iter()
        .partition(|c| reports.len() > 1 && c.cells.iter().all(|cell| *cell == c.cells[0]));
    if !same.is_empty() {
        let said: Vec<String> = same
            .iter()
            .map(|c| format!("{} {}", c.header, c.cells[0]))
            .collect();
        writeln!(out, "every run: {}", said.join(" · "))?;
    }
    let columns: Vec<Column> = varied.into_iter().chain(measured).collect();
    let widths: Vec<usize> = columns.iter().map(Column::width).collect();
    // The first column (a name or a count) reads from the left, figures from the right.
    let line = |cell: &dyn Fn(&Column) -> &str| {
        let cells: Vec<String> = columns
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, &w))| match i {
                0 => format!("{:<w$}", cell(c)),
                _ => format!("{:>w$}", cell(c)),
            })
            .collect();
        cells.join(" ")
    };
    writeln!(out, "{}", line(&|c| c.header))?;
    for run in 0..reports.len() {
        writeln!(out, "{}", line(&|c| &c.cells[run]))?;
    }
    Ok(())
}

/// One column of [`write_comparison`]: its header and one cell per run.
struct Column {
    header: &'static str,
    cells: Vec<String>,
}

impl Column {
    /// Columns (not bytes: `µs`) its widest cell or header takes.
    fn width(&self) -> usize {
        self.cells
            .iter()
            .map(|cell| cell.chars().count())
            .chain([self.header.len()])
            .max()
            .unwrap_or(0)
    }
}

/// Columns the bars of [`write_bars`] may take.
const BAR_WIDTH: usize = 50;

/// msgs/s of each run as a bar, in a terminal: where a design collapses is seen at once.
fn write_bars(out: &mut impl Write, reports: &[BenchReport]) -> io::Result<()> {
    let top = reports.iter().map(|r| r.msgs_per_s).fold(0.0, f64::max);
    writeln!(out)?;
    for r in reports {
        let len = if top > 0.0 {
            (r.msgs_per_s / top * BAR_WIDTH as f64).round() as usize
        } else {
            0
        };
        let label = format!(
            "{} ×{} {}B",
            r.model.as_deref().unwrap_or("target"),
            r.connections,
            r.size
        );
        writeln!(
            out,
            "{label:<22} {} {:.0}",
            "█".repeat(len.max(1)),
            r.msgs_per_s
        )?;
    }
    Ok(())
}

/// The report for people: one `name value` row per figure.
fn write_table(out: &mut impl Write, r: &BenchReport, errors: &ErrorTally) -> io::Result<()> {
    let rows = [
        (
            "target",
            format!("{} ({} echo)", r.target, r.protocol.to_uppercase()),
        ),
        (
            "server",
            match (&r.model, r.read_size) {
                (Some(model), Some(read)) => format!("embedded, {model}, read {read}"),
                _ => "the target".to_owned(),
            },
        ),
        (
            "connections",
            match r.served {
                served if served < r.connections => {
                    format!("{} ({served} served)", r.connections)
                }
                _ => r.connections.to_string(),
            },
        ),
        ("size", format!("{} B", r.size)),
        ("pipeline", r.pipeline.to_string()),
        ("duration", units::micros(r.duration_s * 1e6)),
        ("messages", r.messages.to_string()),
        ("bytes", units::bytes(r.bytes)),
        ("msgs/s", format!("{:.1}", r.msgs_per_s)),
        ("MiB/s", format!("{:.2}", r.mib_per_s)),
        (
            "rtt",
            r.rtt_us
                .as_ref()
                .map_or_else(|| "no echoes".to_owned(), crate::headless::rtt_ladder),
        ),
        (
            "jitter",
            r.jitter_us.map_or_else(|| "-".to_owned(), units::micros),
        ),
        ("clock", clock_words(r)),
        ("errors", errors.to_string()),
    ];
    let rows = rows.into_iter().chain(
        r.server_threads
            .filter(|&n| n > 0)
            .map(|n| ("threads", format!("{n} (server)"))),
    );
    for (name, value) in rows {
        writeln!(out, "{name:<12} {value}")?;
    }
    Ok(())
}

/// Which clock timed the RTTs, in the table's words.
fn clock_words(r: &BenchReport) -> String {
    match (r.clock, r.user_clock_echoes) {
        ("kernel", 0) => "kernel (receive timestamps)".to_owned(),
        ("kernel", n) => format!(
            "kernel (receive timestamps; {} without one timed by echotui's clock)",
            units::count(n, "echo", "echoes")
        ),
        _ => "echotui's own (our wake-up included)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(report: &BenchReport, errors: &ErrorTally) -> String {
        let mut out = Vec::new();
        write_table(&mut out, report, errors).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// A run of the README's model comparison, with the widest figures it printed.
    fn compared(model: &str, connections: usize) -> BenchReport {
        BenchReport {
            model: Some(model.to_owned()),
            read_size: Some(1024),
            connections,
            size: 64,
            msgs_per_s: 94_508.7,
            mib_per_s: 5.77,
            rtt_us: Some(RttSummary {
                min: 8.0,
                mean: 500.0,
                p50: 551.0,
                p90: 900.0,
                p99: 1080.0,
                p999: 2000.0,
                max: 9000.0,
                stddev: 90.0,
            }),
            served: connections,
            server_threads: Some(connections),
            rss_kib: Some(28_262),
            ..no_echoes()
        }
    }

    /// A UDP run against a target that answered nothing.
    fn no_echoes() -> BenchReport {
        BenchReport {
            target: "127.0.0.1:7".to_owned(),
            protocol: "udp",
            model: None,
            read_size: None,
            connections: 1,
            size: 13,
            pipeline: 1,
            duration_s: 1.5,
            messages: 0,
            bytes: 0,
            msgs_per_s: 0.0,
            mib_per_s: 0.0,
            rtt_us: None,
            jitter_us: None,
            errors: 0,
            served: 0,
            server_threads: None,
            rss_kib: None,
            clock: "kernel",
            user_clock_echoes: 0,
            tcp_info: None,
        }
    }

    #[test]
    fn a_comparison_says_shared_settings_once_and_fits_80_columns() {
        let runs: Vec<BenchReport> = ["iterative", "threads", "async"]
            .into_iter()
            .flat_map(|model| [1, 10, 100].map(|conns| compared(model, conns)))
            .collect();
        let mut out = Vec::new();
        write_comparison(&mut out, &runs).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("every run: size 64 B · pipe 1 · read 1024")
        );
        assert!(
            lines.next().unwrap().starts_with("model     conns "),
            "{text}"
        );
        assert_eq!(text.lines().count(), 2 + runs.len(), "{text}");
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{line:?} is wider than 80");
        }
    }

    #[test]
    fn the_table_shows_every_figure_and_says_when_there_is_none() {
        let mut report = no_echoes();
        let text = table(&report, &ErrorTally::default());
        assert!(
            text.starts_with("target       127.0.0.1:7 (UDP echo)\n"),
            "{text}"
        );
        assert!(text.contains("\nduration     1.50s\n"), "{text}");
        assert!(text.contains("\nrtt          no echoes\n"), "{text}");
        assert!(text.contains("\njitter       -\n"), "{text}");
        assert!(
            text.contains("\nclock        kernel (receive timestamps)\n"),
            "{text}"
        );
        assert!(text.ends_with("\nerrors       0\n"), "{text}");
        report.jitter_us = Some(87.4);
        assert!(table(&report, &ErrorTally::default()).contains("\njitter       87µs\n"));
    }

    #[test]
    fn errors_are_tallied_by_kind() {
        let mut errors = ErrorTally::default();
        assert_eq!(errors.to_string(), "0");
        errors.add("connection reset", 1);
        errors.add("echo differs from what was sent", 0);
        errors.add("echo differs from what was sent", 10);
        errors.add("connection reset", 2);
        assert_eq!(errors.total(), 13);
        assert_eq!(
            errors.to_string(),
            "13 (3 × connection reset, 10 × echo differs from what was sent)"
        );
    }
}
