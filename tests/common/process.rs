//! Child processes: one-shot `echotui` runs, and long-running children (our binary, a foreign
//! echo server) that are killed when the test ends, pass or fail.

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::{STEP, poll};

/// Runs `echotui ARGS` to the end (at most 30 s) and returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = assert_cmd::Command::from_std(echotui(args))
        .timeout(Duration::from_secs(30))
        .output()
        .expect("run echotui");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`run`] with the arguments written as on a command line (split at spaces).
pub fn run_line(line: &str) -> (i32, String, String) {
    run(&line.split_whitespace().collect::<Vec<_>>())
}

/// Asserts the contract for a user's mistake: exit 2 and one `error:` line on stderr that
/// contains `needle`, never a panic.
pub fn assert_user_error(args: &[&str], needle: &str) {
    let (code, stdout, stderr) = run(args);
    assert_eq!(code, 2, "{args:?}: stdout {stdout} stderr {stderr}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    assert!(
        stderr.contains(needle),
        "{args:?}: expected {needle:?} in {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
}

/// `echotui ARGS`, to start as a [`Process`] or [`run`].
pub fn echotui(args: &[&str]) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin!("echotui"));
    command.args(args);
    dies_with_the_test(&mut command);
    command
}

/// Makes the kernel kill the child if the thread that started it dies first: a test runner
/// killed by a timeout or Ctrl-C runs no `Drop`, and would leave servers running (Linux; a
/// no-op elsewhere).
pub fn dies_with_the_test(command: &mut Command) -> &mut Command {
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed: it makes one system call (prctl) and allocates
    // nothing.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(io::Error::from)
        });
    }
    command
}

/// Whether `program` can be started at all (it is installed).
pub fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Bytes a child writes to one of its pipes, collected by a thread as they come: raw bytes,
/// not lines, so a stray `\r` or ESC is seen as what it is, and the child never blocks on a
/// full pipe however little the test reads.
struct Collected {
    bytes: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

impl Collected {
    /// Starts reading `pipe` on a thread of its own, until the child closes it.
    fn start(mut pipe: impl Read + Send + 'static) -> Self {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let sink = bytes.clone();
        let reader = thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                sink.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_from_slice(&buf[..n]);
            }
        });
        Self {
            bytes,
            reader: Some(reader),
        }
    }

    /// What was read so far.
    fn snapshot(&self) -> Vec<u8> {
        self.bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Everything, once the pipe is closed (the child is gone), waiting at most [`STEP`].
    fn finish(&mut self) -> Vec<u8> {
        if let Some(reader) = self.reader.take() {
            poll(STEP, || reader.is_finished().then_some(()))
                .expect("the child's pipe never closed");
            reader.join().expect("the pipe reader");
        }
        self.snapshot()
    }
}

/// Which of a child's outputs to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pipe {
    Stdout,
    Stderr,
}

/// How a child ended and everything it wrote.
#[derive(Debug)]
pub struct Ended {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// A child process with its stdout and stderr collected, killed (if still running) and
/// reaped when dropped, so a failed test leaves nothing running.
pub struct Process {
    child: Child,
    stdout: Collected,
    stderr: Collected,
}

impl Process {
    /// Starts `command` with no stdin and its outputs collected, dying with the test.
    pub fn spawn(command: &mut Command) -> Self {
        let mut child = dies_with_the_test(command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
        let stdout = Collected::start(child.stdout.take().expect("piped stdout"));
        let stderr = Collected::start(child.stderr.take().expect("piped stderr"));
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// What the child wrote to `pipe` so far.
    pub fn output(&self, pipe: Pipe) -> Vec<u8> {
        match pipe {
            Pipe::Stdout => self.stdout.snapshot(),
            Pipe::Stderr => self.stderr.snapshot(),
        }
    }

    /// Looks at what the child wrote to `pipe` until `done` holds, at most [`STEP`]; returns
    /// it. Fails if the child exits first, showing what it wrote.
    pub fn wait_until(&mut self, what: &str, pipe: Pipe, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let found = poll(STEP, || {
            let out = self.output(pipe);
            if done(&out) {
                return Some(Ok(out));
            }
            self.try_wait().map(Err)
        });
        match found {
            Some(Ok(out)) => out,
            Some(Err(status)) => panic!(
                "the child exited ({status}) before {what}; {pipe:?}: {:?}",
                String::from_utf8_lossy(&self.output(pipe))
            ),
            None => panic!(
                "timed out waiting for {what}; {pipe:?} so far: {:?}",
                String::from_utf8_lossy(&self.output(pipe))
            ),
        }
    }

    /// The child's exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Sends `signal` (`TERM`, `HUP`, `INT`, …) with `kill`, the tool a user would use.
    pub fn signal(&self, signal: &str) {
        send_signal(self.child.id(), signal);
    }

    /// Waits (at most [`STEP`]) for the child to exit, then for the last of its output.
    pub fn wait(mut self) -> Ended {
        let status = poll(STEP, || self.try_wait())
            .unwrap_or_else(|| panic!("the child still runs after {STEP:?}"));
        Ended {
            status,
            stdout: self.stdout.finish(),
            stderr: self.stderr.finish(),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends `signal` to process `pid` with `kill`; fails the test if `kill` does.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed: {status}");
}
