//! Which clock timed an echo's arrival: the kernel's, when it received the last segment, or
//! ours, when our read returned (which adds the time our own process took to wake up).

use std::fmt;

/// The clock that timed the end of a round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The kernel's receive timestamp (`SO_TIMESTAMPING`), as `ping(8)` uses.
    Kernel,
    /// `Instant::now()` right after the read returned: our wake-up included.
    #[default]
    User,
}

impl Clock {
    /// The word `--json` uses: `"kernel"` or `"user"`.
    pub fn name(self) -> &'static str {
        match self {
            Clock::Kernel => "kernel",
            Clock::User => "user",
        }
    }
}

impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How many echoes of a run each clock timed: a run asks for kernel timestamps, and the
/// kernel may still leave one out now and then (each such echo is timed by our clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClockCount {
    pub kernel: u64,
    pub user: u64,
}

impl ClockCount {
    /// `echoes` more were timed by `clock`.
    pub fn record(&mut self, clock: Clock, echoes: u64) {
        match clock {
            Clock::Kernel => self.kernel += echoes,
            Clock::User => self.user += echoes,
        }
    }

    /// Adds another count (one connection's, to a run's).
    pub fn merge(&mut self, other: &ClockCount) {
        self.kernel += other.kernel;
        self.user += other.user;
    }

    /// The clock a run reports: the kernel's when it timed any echo (the others are counted
    /// in [`ClockCount::user`]), ours when it timed them all, and the one `in_force` on the
    /// run's sockets when there was no echo at all.
    pub fn clock(&self, in_force: Clock) -> Clock {
        match (self.kernel, self.user) {
            (0, 0) => in_force,
            (0, _) => Clock::User,
            _ => Clock::Kernel,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_kernel_timed_when_the_kernel_timed_any_echo() {
        let mut count = ClockCount::default();
        assert_eq!(
            count.clock(Clock::Kernel),
            Clock::Kernel,
            "no echo: the clock in force"
        );
        count.record(Clock::User, 2);
        assert_eq!(count.clock(Clock::Kernel), Clock::User);
        let mut other = ClockCount::default();
        other.record(Clock::Kernel, 5);
        count.merge(&other);
        assert_eq!(
            (count.clock(Clock::User), count.kernel, count.user),
            (Clock::Kernel, 5, 2)
        );
        assert_eq!(Clock::Kernel.to_string(), "kernel");
    }
}
