//! The impairment proxy: a slow, jittery, lossy link between client and server, emulated in
//! process (no root, no `tc`), so a lesson can show what a bad network does to an echo.
//!
//! Like netem on a link, every impairment applies to each direction on its own: `delay 50ms`
//! adds 100 ms to a round trip and `loss 10%` loses 1 − 0.9² = 19% of round trips. The
//! settings travel in a [`watch`] channel, so the UI can change them while traffic flows; a
//! datagram or chunk is judged by the settings in force when it reaches the proxy, and what is
//! already on its way keeps its schedule.
//!
//! UDP gets everything: a datagram can be dropped, doubled, sent ahead of the others, delayed
//! and paced. TCP only gets delay, jitter and rate. Above the socket layer the kernel has
//! already retransmitted, deduplicated and reordered the segments for us, so "losing" or
//! "doubling" a chunk of the byte stream would corrupt it instead of emulating anything.
//!
//! A round trip through the proxy costs what was asked and little more: what is due now is
//! written at once, and what is due later waits on a timer precise to microseconds, not on
//! tokio's millisecond wheel (which made `delay 1ms` cost 2 ms more per round trip).
//!
//! - `schedule`: delay ± jitter and pacing, the arithmetic both relays share.
//! - `link`: one UDP direction's judge and queue (loss, duplicate, reorder).
//! - `timer`: waiting until an instant, precisely. `tcp` and `udp`: the relays.

mod link;
mod schedule;
mod tcp;
mod udp;

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use tcp::run_tcp;
pub use udp::run_udp;

use crate::units::{self, Percent};

/// What the proxy does to the traffic, in each direction on its own (as netem on a link).
///
/// Over TCP only `delay`, `jitter` and `rate` apply: loss, duplication and reordering cannot
/// be emulated above the socket layer, where the kernel has already undone them. The UI asks
/// [`Impairments::tcp_ignored`] to say so.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Impairments {
    /// Added to every datagram or chunk, each way.
    pub delay: Duration,
    /// Uniform in [−jitter, +jitter], added to `delay` (never below zero). Over TCP it never
    /// reorders bytes: a chunk is never delivered before the one read ahead of it.
    pub jitter: Duration,
    /// Datagrams dropped (UDP only).
    pub loss: Percent,
    /// Datagrams sent twice (UDP only).
    pub duplicate: Percent,
    /// Datagrams sent at once, skipping the delay the others wait, so they overtake those
    /// still queued (UDP only; netem's model, so it needs a delay: see
    /// [`Impairments::reorder_needs_delay`]).
    pub reorder: Percent,
    /// Bytes per second, each way; `None` (or `Some(0)`) is unlimited.
    pub rate: Option<u64>,
}

impl Impairments {
    /// Whether the proxy changes nothing (so the UI can hide it).
    pub fn is_none(&self) -> bool {
        self.delay.is_zero()
            && self.jitter.is_zero()
            && self.loss.is_zero()
            && self.duplicate.is_zero()
            && self.reorder.is_zero()
            && self.rate().is_none()
    }

    /// The active impairments a TCP relay cannot apply, so the UI can say they are ignored.
    pub fn tcp_ignored(&self) -> Vec<&'static str> {
        self.percentages()
            .filter(|(_, percent)| !percent.is_zero())
            .map(|(name, _)| name)
            .collect()
    }

    /// Whether `reorder` is set without a delay, so the UI can say it does nothing yet: a
    /// reordered datagram skips the delay the others wait, and with no delay there is no one
    /// to overtake. netem refuses `reorder` without `delay` for the same reason.
    pub fn reorder_needs_delay(&self) -> bool {
        !self.reorder.is_zero() && self.delay.is_zero()
    }

    /// The same link as a `tc` command line, for the help screen ("this is what netem would
    /// need"). Only active parts appear. A `reorder` without delay, which `tc` would refuse,
    /// is left out and named in a shell comment, so the line can still be pasted.
    pub fn netem_command(&self, dev: &str) -> String {
        let mut line = format!("tc qdisc add dev {dev} root netem");
        if !self.delay.is_zero() || !self.jitter.is_zero() {
            line += &format!(" delay {}", units::setting_duration(self.delay));
            if !self.jitter.is_zero() {
                line += &format!(" {}", units::setting_duration(self.jitter));
            }
        }
        for (name, percent) in self.percentages() {
            let refused = name == "reorder" && self.reorder_needs_delay();
            if !percent.is_zero() && !refused {
                line += &format!(" {name} {percent}");
            }
        }
        if let Some(rate) = self.rate() {
            line += &format!(" rate {}", units::tc_bits(u128::from(rate) * 8));
        }
        if self.reorder_needs_delay() {
            line += &format!(" # reorder {} needs a delay", self.reorder);
        }
        line
    }

    /// The rate limit, if there is one (`Some(0)` means none: zero bytes per second would
    /// stop the link rather than slow it).
    fn rate(&self) -> Option<u64> {
        self.rate.filter(|&rate| rate > 0)
    }

    /// The three percentages with their netem names, in netem's order.
    fn percentages(&self) -> impl Iterator<Item = (&'static str, Percent)> {
        [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ]
        .into_iter()
    }
}

/// For the status bar: `delay 50ms ±10ms · loss 10% · rate 10 kB/s`, or `none`.
impl fmt::Display for Impairments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.delay.is_zero() || !self.jitter.is_zero() {
            let mut delay = format!("delay {}", units::setting_duration(self.delay));
            if !self.jitter.is_zero() {
                delay += &format!(" ±{}", units::setting_duration(self.jitter));
            }
            parts.push(delay);
        }
        for (name, percent) in self.percentages() {
            if !percent.is_zero() {
                parts.push(format!("{name} {percent}"));
            }
        }
        if let Some(rate) = self.rate() {
            parts.push(format!("rate {}", units::rate(rate)));
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(" · "))
        }
    }
}

/// The UI's handle for changing impairments while traffic flows.
#[derive(Debug)]
pub struct ImpairControl {
    sender: watch::Sender<Impairments>,
}

/// Creates the live settings shared by the UI ([`ImpairControl`]) and the proxies (the
/// receiver, cloned into [`run_tcp`] and [`run_udp`]).
pub fn control(initial: Impairments) -> (ImpairControl, watch::Receiver<Impairments>) {
    let (sender, receiver) = watch::channel(initial);
    (ImpairControl { sender }, receiver)
}

impl ImpairControl {
    /// Changes the impairments for data that reaches the proxy from now on; data already on
    /// its way keeps its schedule, as packets in a real queue would.
    pub fn set(&self, impairments: Impairments) {
        // `send_replace` stores the value even while no proxy is running (after `/tcp`, say).
        self.sender.send_replace(impairments);
    }

    /// The impairments in force, for the status bar.
    pub fn get(&self) -> Impairments {
        *self.sender.borrow()
    }

    /// Another receiver, for a proxy started later (switching between TCP and UDP).
    pub fn subscribe(&self) -> watch::Receiver<Impairments> {
        self.sender.subscribe()
    }
}

/// What the proxy did to the traffic, so the UI can show it beside the RTTs. Shared through
/// an `Arc`: the proxy counts, the UI reads with `load(Ordering::Relaxed)`.
#[derive(Debug, Default)]
pub struct ImpairStats {
    /// Datagrams dropped by `loss`.
    pub dropped: AtomicU64,
    /// Datagrams sent twice by `duplicate` (counted once per extra copy).
    pub duplicated: AtomicU64,
    /// Datagrams sent at once by `reorder`, ahead of earlier ones still waiting their delay.
    pub reordered: AtomicU64,
    /// Datagrams and TCP chunks delivered later than they arrived (delay, jitter, rate).
    pub delayed: AtomicU64,
    /// Datagrams the proxy dropped on its own: queue full, or no socket for a new source.
    pub overflowed: AtomicU64,
}

/// Adds one to a counter of [`ImpairStats`]; nothing but the count itself is ordered by it.
fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A running impairment proxy (TCP and UDP on one loopback port) and the handles the UI needs.
#[derive(Debug)]
pub struct Proxy {
    /// Where clients connect to be impaired.
    pub addr: SocketAddr,
    /// Where the proxy forwards to (the server a client would otherwise reach directly).
    pub upstream: SocketAddr,
    /// Changes the impairments of both relays while traffic flows.
    pub control: ImpairControl,
    /// What both relays did to the traffic so far.
    pub stats: Arc<ImpairStats>,
}

/// Starts the TCP and UDP relays on one free loopback port in front of `upstream`, until
/// `shutdown`.
pub async fn start(
    upstream: SocketAddr,
    initial: Impairments,
    shutdown: &CancellationToken,
) -> Result<Proxy, super::NetError> {
    let loopback = if upstream.is_ipv6() {
        SocketAddr::from((Ipv6Addr::LOCALHOST, 0))
    } else {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
    };
    let listener = super::listen(loopback).await?;
    let addr = listener
        .local_addr()
        .map_err(|cause| super::NetError::Listen {
            addr: loopback,
            cause,
        })?;
    let socket = super::listen_udp(addr).await?;
    let (control, receiver) = control(initial);
    let stats = Arc::new(ImpairStats::default());
    tokio::spawn(run_tcp(
        listener,
        upstream,
        receiver.clone(),
        stats.clone(),
        shutdown.clone(),
    ));
    tokio::spawn(run_udp(
        socket,
        upstream,
        receiver,
        stats.clone(),
        shutdown.clone(),
    ));
    Ok(Proxy {
        addr,
        upstream,
        control,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percent(value: f64) -> Percent {
        Percent::new(value).unwrap()
    }

    #[test]
    fn display_lists_only_active_impairments() {
        assert_eq!(Impairments::default().to_string(), "none");
        let link = Impairments {
            delay: Duration::from_millis(50),
            jitter: Duration::from_millis(10),
            loss: percent(10.0),
            rate: Some(10_000),
            ..Impairments::default()
        };
        assert_eq!(
            link.to_string(),
            "delay 50ms ±10ms · loss 10% · rate 10 kB/s"
        );
        let all = Impairments {
            delay: Duration::from_micros(1500),
            duplicate: percent(1.0),
            reorder: percent(0.5),
            rate: Some(1536),
            ..Impairments::default()
        };
        assert_eq!(
            all.to_string(),
            "delay 1.5ms · duplicate 1% · reorder 0.5% · rate 1.54 kB/s"
        );
        let slow = Impairments {
            delay: Duration::from_secs(2),
            rate: Some(65_536),
            ..Impairments::default()
        };
        assert_eq!(slow.to_string(), "delay 2s · rate 64 KiB/s");
    }

    #[test]
    fn netem_command_says_the_same_link_in_tc_words() {
        assert_eq!(
            Impairments::default().netem_command("lo"),
            "tc qdisc add dev lo root netem"
        );
        let link = Impairments {
            delay: Duration::from_millis(50),
            jitter: Duration::from_millis(10),
            loss: percent(10.0),
            duplicate: percent(1.0),
            reorder: percent(5.0),
            rate: Some(10_000),
        };
        assert_eq!(
            link.netem_command("eth0"),
            "tc qdisc add dev eth0 root netem delay 50ms 10ms loss 10% duplicate 1% reorder 5% rate 80kbit"
        );
        let odd_rate = Impairments {
            rate: Some(1023),
            ..Impairments::default()
        };
        assert_eq!(
            odd_rate.netem_command("lo"),
            "tc qdisc add dev lo root netem rate 8184bit"
        );
    }

    #[test]
    fn reorder_without_delay_is_named_not_invented() {
        let reorder_only = Impairments {
            reorder: percent(25.0),
            loss: percent(1.0),
            ..Impairments::default()
        };
        assert!(reorder_only.reorder_needs_delay());
        // No `delay` of our own making: the line says what netem lacks instead.
        assert_eq!(
            reorder_only.netem_command("lo"),
            "tc qdisc add dev lo root netem loss 1% # reorder 25% needs a delay"
        );
        let delayed = Impairments {
            delay: Duration::from_millis(50),
            ..reorder_only
        };
        assert!(!delayed.reorder_needs_delay());
        assert_eq!(
            delayed.netem_command("lo"),
            "tc qdisc add dev lo root netem delay 50ms loss 1% reorder 25%"
        );
        assert!(!Impairments::default().reorder_needs_delay());
    }

    #[test]
    fn tcp_names_what_it_ignores() {
        let link = Impairments {
            delay: Duration::from_millis(5),
            loss: percent(1.0),
            reorder: percent(2.0),
            ..Impairments::default()
        };
        assert_eq!(link.tcp_ignored(), ["loss", "reorder"]);
        assert!(!link.is_none());
        assert!(Impairments::default().tcp_ignored().is_empty());
        assert!(Impairments::default().is_none());
        let zero_rate = Impairments {
            rate: Some(0),
            ..Impairments::default()
        };
        assert!(zero_rate.is_none());
    }

    #[test]
    fn control_hands_changes_to_every_receiver() {
        let (control, first) = control(Impairments::default());
        let later = control.subscribe();
        let slow = Impairments {
            delay: Duration::from_millis(30),
            ..Impairments::default()
        };
        control.set(slow);
        assert_eq!(control.get(), slow);
        assert_eq!(*first.borrow(), slow);
        assert_eq!(*later.borrow(), slow);
    }
}
