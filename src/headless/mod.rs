//! Modes without a terminal UI, for scripts and CI: the same `net` and `stats`, with text or
//! JSON on stdout.

pub mod bench;
pub mod ping;
pub mod serve;

use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;

use crate::net::{self, Behaviour, EventSink, Limits, ServerControl, ServerSettings, Transport};
use crate::stats::{PROBE_HEADER, RttSummary};
use crate::units;

/// Starts an echo server on a free loopback port (never 12345, so it cannot clash), for
/// `ping` and `bench` without a target. It admits at least `connections` clients from
/// loopback, so a bench is never turned away by the per-IP limit meant for classrooms.
pub async fn embedded_server(
    shutdown: &CancellationToken,
    connections: usize,
    transport: Transport,
    behaviour: Behaviour,
    backlog: u32,
) -> anyhow::Result<Embedded> {
    let defaults = Limits::default();
    let settings = ServerSettings {
        report_reads: false,
        limits: Limits {
            max_conns: defaults.max_conns.max(connections),
            max_per_ip: defaults.max_per_ip.max(connections),
            ..defaults
        },
    };
    let control = ServerControl::with(behaviour);
    let server = net::serve::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        transport.into(),
        backlog,
        settings,
        control.clone(),
        EventSink::discard(),
        shutdown.clone(),
    )
    .await?;
    Ok(Embedded {
        addr: server.addr,
        control,
    })
}

/// An embedded server: where it listens, and its controls (for its census and threads).
#[derive(Debug)]
pub struct Embedded {
    pub addr: SocketAddr,
    pub control: ServerControl,
}

/// Checks `-s` for `ping --udp` and `bench --udp` (`command`): a probe must hold its nonce
/// and sequence number, and fit in one datagram.
pub fn check_udp_probe_size(command: &str, size: usize) -> anyhow::Result<()> {
    let (min, max) = (PROBE_HEADER, net::udp::MAX_DATAGRAM);
    if !(min..=max).contains(&size) {
        anyhow::bail!(
            "{command} --udp: -s must be {min}..={max} (each datagram carries a nonce and a sequence number)"
        );
    }
    Ok(())
}

/// The percentile ladder as `ping` and `bench` print it:
/// `min/mean/p50/p90/p99/p99.9/max/stddev = 12µs/…`, each with an adaptive unit.
pub fn rtt_ladder(s: &RttSummary) -> String {
    let values = [s.min, s.mean, s.p50, s.p90, s.p99, s.p999, s.max, s.stddev]
        .map(units::micros)
        .join("/");
    format!("min/mean/p50/p90/p99/p99.9/max/stddev = {values}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_probe_sizes_hold_the_header_and_fit_a_datagram() {
        assert!(check_udp_probe_size("ping", PROBE_HEADER).is_ok());
        assert!(check_udp_probe_size("ping", net::udp::MAX_DATAGRAM).is_ok());
        let err = check_udp_probe_size("bench", PROBE_HEADER - 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench --udp: -s must be 8..=65507 (each datagram carries a nonce and a sequence number)"
        );
        assert!(check_udp_probe_size("ping", net::udp::MAX_DATAGRAM + 1).is_err());
    }
}
