//! Modes without a terminal UI, for scripts and CI: the same `net` and `stats`, with text or
//! JSON on stdout.

pub mod bench;
pub mod ping;
pub mod serve;

use std::net::SocketAddr;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::cli::ClientOpts;
use crate::net::sockinfo::TcpInfo;
use crate::net::{self, Behaviour, EventSink, Limits, ServerControl, ServerSettings, Transport};
use crate::stats::{PROBE_HEADER, RttSummary};
use crate::units;

/// Starts an echo server on a free loopback port (never 12345, so it cannot clash), for
/// `ping` and `bench` without a target. It admits at least `connections` clients from
/// loopback, so a bench is never turned away by the per-IP limit meant for classrooms.
pub(crate) async fn embedded_server(
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
pub(crate) struct Embedded {
    pub(crate) addr: SocketAddr,
    pub(crate) control: ServerControl,
}

/// Checks `-s` for `ping --udp` and `bench --udp` (`command`): a probe must hold its nonce
/// and sequence number, and fit in one datagram.
pub(crate) fn check_udp_probe_size(command: &str, size: usize) -> anyhow::Result<()> {
    let (min, max) = (PROBE_HEADER, net::udp::MAX_DATAGRAM);
    if !(min..=max).contains(&size) {
        anyhow::bail!(
            "{command} --udp: -s must be {min}..={max} (each datagram carries a nonce and a sequence number)"
        );
    }
    Ok(())
}

/// `--congestion` chooses TCP's congestion control: over UDP there is none to choose.
pub(crate) fn refuse_congestion_over_udp(command: &str, opts: &ClientOpts) -> anyhow::Result<()> {
    if opts.congestion.is_some() {
        anyhow::bail!(
            "{command} --udp: --congestion applies to TCP only (UDP has no congestion control)"
        );
    }
    Ok(())
}

/// The `tcp_info` object of `ping --json` and `bench --json`: the kernel's view of a client
/// socket at the end of the run, named as `ss -ti` names it (README, "What the kernel knows").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TcpInfoReport {
    /// The kernel's smoothed RTT and its mean deviation, µs.
    pub srtt_us: u64,
    pub rttvar_us: u64,
    /// The lowest RTT the kernel saw, µs (`null` on kernels before 4.6).
    pub min_rtt_us: Option<u64>,
    /// Congestion window, in segments.
    pub cwnd: u32,
    /// Segments retransmitted and not yet acknowledged, and retransmissions in all.
    pub retrans: u32,
    pub total_retrans: u32,
    /// Path MTU and our MSS, bytes.
    pub pmtu: u32,
    pub snd_mss: u32,
    /// The kernel's delivery rate estimate, bytes per second (`null` before 4.9).
    pub delivery_rate: Option<u64>,
    /// Bytes the peer acknowledged (`null` before 4.1).
    pub bytes_acked: Option<u64>,
}

impl From<&TcpInfo> for TcpInfoReport {
    fn from(info: &TcpInfo) -> Self {
        let micros = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Self {
            srtt_us: micros(info.rtt),
            rttvar_us: micros(info.rttvar),
            min_rtt_us: info.min_rtt.map(micros),
            cwnd: info.cwnd,
            retrans: info.retrans,
            total_retrans: info.total_retrans,
            pmtu: info.pmtu,
            snd_mss: info.snd_mss,
            delivery_rate: info.delivery_rate,
            bytes_acked: info.bytes_acked,
        }
    }
}

/// The percentile ladder as `ping` and `bench` print it:
/// `min/mean/p50/p90/p99/p99.9/max/stddev = 12µs/…`, each with an adaptive unit.
pub(crate) fn rtt_ladder(s: &RttSummary) -> String {
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
