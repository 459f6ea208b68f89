//! Waiting until an instant with microsecond precision, not tokio's millisecond.
//!
//! tokio's timer wheel ticks in whole milliseconds and rounds every deadline up to the next
//! tick: `sleep_until(now + 1ms)` returns after 1–2 ms, and even a deadline just passed may
//! wait for the next tick. Emulating `delay 1ms` with it made a round trip 4.2 ms instead of
//! 2, and a server echoing in chunks "1 ms apart" took 8 ms for five of them. Every wait whose
//! length ends up in a number we show (the impairment proxy's holds, the server's chunk gaps
//! and think time) uses a [`Timer`], which waits in two stages:
//!
//! 1. On Linux, a `timerfd` on `CLOCK_MONOTONIC` (the clock behind `Instant`), which tokio's
//!    reactor watches like a socket, wakes it [`LAST_STRETCH`] before the deadline. Even so
//!    precise a timer is late: the kernel took 30–150 µs to wake an idle thread on our
//!    loaded 2-vCPU virtual machines.
//! 2. It then yields to the other tasks until the deadline, looking at the clock between
//!    turns: a few microseconds late, for at most [`LAST_STRETCH`] of CPU time per wait.
//!    Deadlines closer together than that (a flood of small datagrams under a rate limit)
//!    keep the task looking until the queue drains: precision costs CPU there.
//!
//! Off Linux the first stage is tokio's `sleep_until`, up to a millisecond late, so the
//! second stage then finds the deadline already past: late by a millisecond, never early.

use std::time::Duration;

use tokio::time::Instant;

/// How long before its deadline a wait stops sleeping and starts looking at the clock: more
/// than a sleeping thread takes to wake (over 100 µs at the 90th percentile on a loaded VM),
/// so that the wake-up is rarely what makes it late.
const LAST_STRETCH: Duration = Duration::from_micros(200);

/// One relay direction's alarm clock, re-armed for each wait rather than made per chunk.
#[derive(Debug, Default)]
pub(crate) struct Timer {
    #[cfg(target_os = "linux")]
    precise: timerfd::Precise,
}

impl Timer {
    /// Returns at `deadline` or a few microseconds after, never before. A deadline that is
    /// not in the future returns at once, without a system call: there is nothing to wait for.
    pub(crate) async fn sleep_until(&mut self, deadline: Instant) {
        let wake = deadline.checked_sub(LAST_STRETCH);
        if let Some(wake) = wake.filter(|wake| *wake > Instant::now()) {
            self.sleep_roughly_until(wake).await;
        }
        while Instant::now() < deadline {
            // Back of the queue: the other tasks of this worker, and tokio's reactor, run
            // before we look at the clock again, so the wait blocks nobody.
            tokio::task::yield_now().await;
        }
    }

    /// The first stage: sleeps until `wake`, a little late, never early.
    async fn sleep_roughly_until(&mut self, wake: Instant) {
        #[cfg(target_os = "linux")]
        if self.precise.sleep_until(wake).await.is_ok() {
            return;
        }
        // Off Linux, or when the kernel refused a timerfd (file table full): tokio's timer.
        tokio::time::sleep_until(wake).await;
    }
}

/// The Linux timer: rustix makes the system calls, tokio's reactor polls the fd.
#[cfg(target_os = "linux")]
mod timerfd {
    use std::io;
    use std::os::fd::OwnedFd;
    use std::time::Duration;

    use rustix::time::{
        Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
        timerfd_settime,
    };
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;
    use tokio::time::Instant;

    /// A one-shot timerfd, made on the first wait that needs one (a direction that never
    /// waits holds no file descriptor).
    #[derive(Debug, Default)]
    pub(super) struct Precise {
        /// `None` until a wait needs it (the tests check that only such a wait makes one).
        pub(super) fd: Option<AsyncFd<OwnedFd>>,
        /// The deadline the fd is armed for. A `select!` may drop a wait and then wait again
        /// for the same deadline; that second wait needs no new system call.
        armed: Option<Instant>,
    }

    impl Precise {
        /// Waits until `deadline`; `Err` only if the kernel refused a timerfd or its use.
        pub(super) async fn sleep_until(&mut self, deadline: Instant) -> io::Result<()> {
            let fd = match self.fd.take() {
                Some(fd) => fd,
                None => create()?,
            };
            let fd = self.fd.insert(fd);
            if self.armed != Some(deadline) {
                // Relative to now, so it fires at `deadline` plus the time this line takes:
                // late by nanoseconds, never early. A zero `it_value` would disarm the timer
                // instead of firing it, hence the nanosecond floor.
                let after = deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_nanos(1));
                arm(fd, after)?;
                self.armed = Some(deadline);
            }
            expired(fd).await?;
            self.armed = None;
            Ok(())
        }
    }

    fn create() -> io::Result<AsyncFd<OwnedFd>> {
        // Non-blocking, so reading an fd that has not expired says "would block" and tokio
        // waits for the reactor instead of blocking a worker thread.
        let flags = TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC;
        let fd = timerfd_create(TimerfdClockId::Monotonic, flags)?;
        // SAFETY: tokio asks that the fd stay open, and the same fd, for as long as it is
        // registered. The `OwnedFd` was just opened, `AsyncFd` owns it until it is dropped
        // (deregistering first), and nothing here swaps it (`get_mut` is never called).
        let registered = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) };
        Ok(registered?)
    }

    /// Arms `fd` to expire once, `after` from now. Re-arming also clears an expiry nobody
    /// read, so a wait that was dropped cannot wake the next one early.
    fn arm(fd: &AsyncFd<OwnedFd>, after: Duration) -> io::Result<()> {
        // Durations are at most a year (`units::MAX_DURATION`), far from overflowing `tv_sec`.
        let value = Timespec::try_from(after).map_err(|_| io::ErrorKind::InvalidInput)?;
        let once = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        timerfd_settime(fd.get_ref(), TimerfdTimerFlags::empty(), &once)?;
        Ok(())
    }

    /// Waits until `fd` has expired since it was last armed.
    async fn expired(fd: &AsyncFd<OwnedFd>) -> io::Result<()> {
        loop {
            let mut ready = fd.readable().await?;
            // The read returns how many times the timer expired (8 bytes), which a one-shot
            // timer does not need. "Would block" means tokio's readiness was stale (an
            // expiry since cleared by re-arming): `try_io` forgets it and we wait again.
            let mut expirations = [0u8; 8];
            let read = ready.try_io(|fd| Ok(rustix::io::read(fd.get_ref(), &mut expirations)?));
            if let Ok(read) = read {
                return read.map(drop);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[test]
    fn a_deadline_not_in_the_future_returns_at_once_without_a_timer() {
        let mut timer = Timer::default();
        let now = Instant::now();
        // Ready on the first poll: no timer wheel, no reactor, not even a runtime.
        assert!(timer.sleep_until(now).now_or_never().is_some());
        let past = now - Duration::from_millis(1);
        assert!(timer.sleep_until(past).now_or_never().is_some());
        #[cfg(target_os = "linux")]
        assert!(timer.precise.fd.is_none(), "a timerfd was made for nothing");
    }

    #[tokio::test]
    async fn wakes_no_earlier_than_its_deadline() {
        let mut timer = Timer::default();
        // Within the last stretch, on its edge, and beyond it (the timerfd's turn).
        for micros in [1, 50, 199, 200, 201, 1000, 2500] {
            let deadline = Instant::now() + Duration::from_micros(micros);
            timer.sleep_until(deadline).await;
            let now = Instant::now();
            assert!(now >= deadline, "woke {:?} early", deadline - now);
        }
        #[cfg(target_os = "linux")]
        assert!(
            timer.precise.fd.is_some(),
            "tokio's timer was used, not a timerfd"
        );
    }

    /// The first stage alone, since the second would hide an early wake-up (at the cost of a
    /// busy wait): a timerfd that fired for a dropped wait must not end the next one.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_timerfd_never_wakes_early_even_after_a_dropped_wait() {
        let mut precise = timerfd::Precise::default();
        // Armed for 1 ms, then dropped (as `select!` drops the losing branch)...
        let soon = Instant::now() + Duration::from_millis(1);
        assert!(precise.sleep_until(soon).now_or_never().is_none());
        // ...and left to expire unread.
        std::thread::sleep(Duration::from_millis(5));
        let later = Instant::now() + Duration::from_millis(20);
        precise.sleep_until(later).await.expect("timerfd");
        assert!(Instant::now() >= later);

        // Dropped, then waited for again: the same deadline, still honoured.
        let again = Instant::now() + Duration::from_millis(5);
        assert!(precise.sleep_until(again).now_or_never().is_none());
        precise.sleep_until(again).await.expect("timerfd");
        assert!(Instant::now() >= again);
    }
}
