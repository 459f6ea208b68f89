//! Command-line types (clap) and their validation. The rest of the program receives the
//! validated values, never raw strings.
//!
//! Options that the config file can set carry `env = "ECHOTUI_…"`; the file's values become
//! their defaults before parsing ([`crate::config`]), so clap itself applies the precedence:
//! command line, then environment, then file, then built-in default.

mod examples;

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{BoolishValueParser, PossibleValue};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::app::model::{ThemeName, ViewSettings};
use crate::net::framing::Framing;
use crate::net::impair::Impairments;
use crate::net::server::Misbehaviour;
use crate::net::sockinfo::Congestion;
use crate::net::{Behaviour, MAX_MESSAGE_SIZE, MAX_READ_SIZE, ServerModel};
use crate::stats::Clock;
use crate::units::{self, Percent, parse_duration, parse_positive_duration, parse_rate};

/// The echo protocol (RFC 862) made visible: an echo server and client side by side.
///
/// Without a command, starts an embedded echo server on 127.0.0.1:12345 and a client
/// connected to it, in a terminal UI.
#[derive(Debug, Parser)]
#[command(name = "echotui", version, about, long_about, after_help = examples::ECHOTUI)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub server: ServerOpts,
    #[command(flatten)]
    pub client: ClientOpts,
    #[command(flatten)]
    pub transport: TransportOpts,
    #[command(flatten)]
    pub impair: ImpairOpts,
    /// Where the UI's embedded server listens (default 127.0.0.1:12345, or a free port if that
    /// one is busy); a non-loopback address exposes it to the network.
    #[arg(long, value_name = "ADDR", value_parser = parse_listen, env = "ECHOTUI_LISTEN")]
    pub listen: Option<String>,
    /// Record the client's session as JSON Lines (every message, echo and RTT) in FILE.
    #[arg(long, value_name = "FILE", global = true)]
    pub log: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub classroom: ClassroomOpts,
    /// Whether `--listen` was typed on the command line (not from the environment or the
    /// config file): only then is it a mistake before a subcommand.
    #[arg(skip)]
    pub listen_typed: bool,
    /// `echotui config`: the effective configuration, rendered while the sources of each
    /// value were known.
    #[arg(skip)]
    pub effective_config: String,
}

/// How the UI looks and what it offers a class; each also settable in the config file and as
/// `ECHOTUI_…`.
#[derive(Debug, Clone, Args)]
pub struct ClassroomOpts {
    /// Colours: dark, light, high-contrast (projectors) or colorblind (Okabe–Ito); NO_COLOR
    /// still turns colour off.
    #[arg(long, value_name = "NAME", global = true, env = "ECHOTUI_THEME")]
    pub theme: Option<ThemeName>,
    /// Presenter mode: bold, fewer columns, big latency numbers, high-contrast theme unless
    /// --theme says otherwise, remote addresses masked.
    #[arg(long, global = true, env = "ECHOTUI_PRESENTER", value_parser = BoolishValueParser::new())]
    pub presenter: bool,
    /// Show peers as student-01, student-02… instead of their addresses (the UI and serve's
    /// text log; --json keeps the real ones).
    #[arg(long, global = true, env = "ECHOTUI_MASK_ADDRESSES", value_parser = BoolishValueParser::new())]
    pub mask_addresses: bool,
    /// Leave the mouse to the terminal, so dragging selects text as usual.
    #[arg(long, global = true, env = "ECHOTUI_NO_MOUSE", value_parser = BoolishValueParser::new())]
    pub no_mouse: bool,
    /// A folder of lesson files (NAME.toml) to add to the built-in lessons.
    #[arg(long, value_name = "DIR", global = true, env = "ECHOTUI_LESSONS")]
    pub lessons: Option<PathBuf>,
    /// The config file (default: echotui/config.toml in the platform's config folder,
    /// $XDG_CONFIG_HOME on Linux).
    #[arg(long, value_name = "FILE", global = true, env = "ECHOTUI_CONFIG")]
    pub config: Option<PathBuf>,
}

impl ClassroomOpts {
    /// The view settings these options ask for.
    pub fn view(&self) -> ViewSettings {
        ViewSettings {
            theme: self.theme,
            presenter: self.presenter,
            mask_addresses: self.mask_addresses,
            mouse: !self.no_mouse,
        }
    }
}

impl ValueEnum for ThemeName {
    fn value_variants<'a>() -> &'a [Self] {
        &ThemeName::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()).help(self.describe()))
    }
}

/// The transport, shared by every mode.
#[derive(Debug, Clone, Args)]
pub struct TransportOpts {
    /// Use UDP instead of TCP (each message one datagram; replies may be lost or duplicated).
    #[arg(long, global = true)]
    pub udp: bool,
}

impl TransportOpts {
    /// The transport asked for.
    pub fn transport(&self) -> crate::net::Transport {
        if self.udp {
            crate::net::Transport::Udp
        } else {
            crate::net::Transport::Tcp
        }
    }
}

/// The modes besides the default side-by-side UI.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run only the echo server (UI, or --headless log lines for scripts).
    #[command(after_help = examples::SERVE)]
    Serve(ServeArgs),
    /// Run only the client UI, against any echo server.
    #[command(after_help = examples::CONNECT)]
    Connect(ConnectArgs),
    /// Measure round-trip times headlessly, like ping(8) over the echo protocol.
    #[command(after_help = examples::PING)]
    Ping(PingArgs),
    /// Load-test an echo server headlessly: many connections, messages in flight, RTT ladder.
    #[command(after_help = examples::BENCH)]
    Bench(BenchArgs),
    /// List the guided lessons, or open one in the side-by-side UI with its narration.
    #[command(after_help = examples::LESSON)]
    Lesson(LessonArgs),
    /// Print the effective configuration as a commented config file.
    #[command(after_help = examples::CONFIG)]
    Config,
    /// Print a shell completion script.
    #[command(after_help = examples::COMPLETIONS)]
    Completions(CompletionsArgs),
    /// Print the man page (roff), with the keys, commands and lessons.
    #[command(after_help = examples::MAN)]
    Man,
}

/// `echotui lesson [NAME]`.
#[derive(Debug, Clone, Args)]
pub struct LessonArgs {
    /// The lesson to open; without it, the list of lessons.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
}

/// `echotui completions SHELL`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Server options shared by the default UI, `serve`, and the embedded server of `ping` and
/// `bench` (whose comparison runs take comma lists of models and read sizes).
#[derive(Debug, Clone, Args)]
pub struct ServerOpts {
    /// Bytes per server read(), like the tutorial's recv(1024) [1..=65536].
    #[arg(long, value_name = "BYTES", default_value = "1024", value_parser = parse_read_size, value_delimiter = ',', global = true, env = "ECHOTUI_READ_SIZE")]
    pub read_size: Vec<usize>,
    /// How the server serves: iterative (one client at a time, the tutorial's), threads (one
    /// thread per client) or async (one task per client).
    #[arg(
        long,
        value_name = "MODEL",
        default_value = "async",
        value_delimiter = ',',
        global = true
    )]
    pub model: Vec<ServerModel>,
    /// listen()'s backlog: connections the kernel queues for accept() (1 = the tutorial's);
    /// the server pane and serve --json show how many wait.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BACKLOG, value_parser = parse_backlog, global = true)]
    pub backlog: u32,
    /// Frame messages: none (RFC 862), line (ends with \n) or len16 (2-byte length first).
    #[arg(long, value_name = "FRAMING", default_value = "none", global = true)]
    pub frame: Framing,
    /// Misbehave: echo in writes of N bytes, 1 ms apart.
    #[arg(long, value_name = "N", value_parser = parse_chunk, global = true)]
    pub echo_chunks: Option<usize>,
    /// Misbehave: wait this long before echoing each read (processing time).
    #[arg(long, value_name = "DUR", value_parser = parse_positive_duration, global = true)]
    pub think: Option<Duration>,
    /// Misbehave: send TEXT first, on accept (escapes such as \r\n allowed).
    #[arg(long, value_name = "TEXT", value_parser = parse_greeting, global = true)]
    pub greeting: Option<Bytes>,
    /// Misbehave: close (FIN) after echoing this many bytes.
    #[arg(long, value_name = "BYTES", value_parser = parse_count, global = true)]
    pub close_after: Option<u64>,
    /// Misbehave: abort (RST) after echoing this many bytes.
    #[arg(long, value_name = "BYTES", value_parser = parse_count, global = true)]
    pub reset_after: Option<u64>,
}

/// Bytes given on the command line, already unescaped.
pub type Bytes = std::sync::Arc<[u8]>;

/// `listen()`'s backlog unless `--backlog` says otherwise: the usual default of Rust and
/// tokio servers.
pub const DEFAULT_BACKLOG: u32 = 128;

impl ServerOpts {
    /// The server's starting behaviour, with the `n`th model and read size of the lists.
    pub fn behaviour(&self, model: ServerModel, read_size: usize) -> Behaviour {
        Behaviour {
            read_size,
            paused: false,
            model,
            framing: self.frame,
            misbehaviour: Misbehaviour {
                echo_chunks: self.echo_chunks,
                think: self.think,
                greeting: self.greeting.clone(),
                close_after: self.close_after,
                reset_after: self.reset_after,
            },
        }
    }

    /// The default model and read-size lists: one async server reading 1024 bytes.
    pub fn default_lists() -> (Vec<ServerModel>, Vec<usize>) {
        (
            vec![ServerModel::default()],
            vec![crate::net::DEFAULT_READ_SIZE],
        )
    }

    /// The behaviour of a mode that runs one server: refuses lists, which only `bench` takes.
    pub fn single(&self) -> anyhow::Result<Behaviour> {
        match (self.model.as_slice(), self.read_size.as_slice()) {
            ([model], [read_size]) => Ok(self.behaviour(*model, *read_size)),
            _ => anyhow::bail!(
                "lists of --model or --read-size are for 'echotui bench' comparison runs"
            ),
        }
    }
}

/// Client options shared by the default UI, `connect`, `ping` and `bench`.
#[derive(Debug, Clone, Args)]
pub struct ClientOpts {
    /// Leave Nagle's algorithm on (default: TCP_NODELAY, Nagle off, since we measure latency).
    #[arg(long, global = true)]
    pub nagle: bool,
    /// TCP congestion control for the client's connections (e.g. cubic, reno, bbr; the
    /// kernel lists what it offers).
    #[arg(long, value_name = "NAME", global = true)]
    pub congestion: Option<Congestion>,
    /// Which clock ends each RTT: the kernel's receive timestamp, or echotui's own clock
    /// after its read returned (which adds our wake-up) [kernel, user].
    #[arg(long, value_name = "CLOCK", default_value = "kernel", value_parser = parse_clock, global = true)]
    pub clock: Clock,
}

/// `echotui serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; a non-loopback address exposes the server to the network.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:12345", value_parser = parse_listen, env = "ECHOTUI_LISTEN")]
    pub listen: String,
    /// No UI: one log line per event on stdout, a summary on Ctrl-C/SIGTERM.
    #[arg(long)]
    pub headless: bool,
    /// With --headless: JSON Lines instead of text.
    #[arg(long, requires = "headless")]
    pub json: bool,
    /// With --headless: log connections, closes, limits and errors, but not every read.
    #[arg(long, requires = "headless")]
    pub quiet: bool,
    /// Maximum simultaneous connections; more are accepted and closed at once.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = parse_limit, env = "ECHOTUI_MAX_CONNS")]
    pub max_conns: u32,
    /// Maximum simultaneous connections from one IP address.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = parse_limit, env = "ECHOTUI_MAX_PER_IP")]
    pub max_per_ip: u32,
    /// Close connections silent for this long (0 = never).
    #[arg(long, value_name = "DUR", default_value = "5m", value_parser = parse_duration, env = "ECHOTUI_IDLE_TIMEOUT")]
    pub idle_timeout: Duration,
    /// Drop a client that stops reading while the server owes it an echo, after this long.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse_positive_duration, env = "ECHOTUI_WRITE_STALL")]
    pub write_stall: Duration,
    /// UDP replies per second per source address (loopback sources are not limited).
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = parse_limit, env = "ECHOTUI_UDP_RATE")]
    pub udp_rate: u32,
}

impl From<&ServeArgs> for crate::net::Limits {
    fn from(args: &ServeArgs) -> Self {
        Self {
            max_conns: args.max_conns as usize,
            max_per_ip: args.max_per_ip as usize,
            idle_timeout: (!args.idle_timeout.is_zero()).then_some(args.idle_timeout),
            write_stall: args.write_stall,
            udp_replies_per_sec: args.udp_rate,
        }
    }
}

/// `echotui connect HOST:PORT`.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// The echo server, HOST:PORT (e.g. localhost:7, [::1]:12345).
    // Also the `--help` text, which shows brackets as typed: not a rustdoc link.
    #[allow(rustdoc::broken_intra_doc_links)]
    #[arg(value_name = "HOST:PORT", value_parser = parse_target)]
    pub target: String,
    #[command(flatten)]
    pub impair: ImpairOpts,
}

/// A bad link between client and server, emulated by an in-process proxy (no root, no tc).
/// Each impairment applies to each direction on its own, as netem does on a link.
#[derive(Debug, Clone, Default, Args)]
pub struct ImpairOpts {
    /// Delay each direction (the RTT grows by twice this), e.g. 50ms.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub delay: Option<Duration>,
    /// Random extra delay, uniform in ±DUR, each direction.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub jitter: Option<Duration>,
    /// Drop this share of datagrams, each direction (UDP only), e.g. 10%.
    #[arg(long, value_name = "PCT")]
    pub loss: Option<Percent>,
    /// Send this share of datagrams twice, each direction (UDP only).
    #[arg(long, value_name = "PCT")]
    pub duplicate: Option<Percent>,
    /// Send this share of datagrams at once, ahead of the delayed ones (UDP only; needs --delay).
    #[arg(long, value_name = "PCT")]
    pub reorder: Option<Percent>,
    /// Limit each direction to this many bytes per second, e.g. 10kB/s.
    #[arg(long, value_name = "BYTES/S", value_parser = parse_rate)]
    pub rate: Option<u64>,
}

impl ImpairOpts {
    /// The impairments asked for (none when no flag was given).
    pub fn impairments(&self) -> Impairments {
        Impairments {
            delay: self.delay.unwrap_or_default(),
            jitter: self.jitter.unwrap_or_default(),
            loss: self.loss.unwrap_or_default(),
            duplicate: self.duplicate.unwrap_or_default(),
            reorder: self.reorder.unwrap_or_default(),
            rate: self.rate,
        }
    }
}

/// `echotui ping [HOST:PORT]`.
#[derive(Debug, Clone, Args)]
pub struct PingArgs {
    /// The echo server; without it, an embedded server on a free loopback port.
    #[arg(value_name = "HOST:PORT", value_parser = parse_target)]
    pub target: Option<String>,
    /// Number of probes.
    #[arg(short, long, value_name = "N", default_value_t = 10, value_parser = parse_count)]
    pub count: u64,
    /// Pause between probes (0 = back-to-back).
    #[arg(short, long, value_name = "DUR", default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Probe size in bytes (13 = "Hello, World!").
    #[arg(short, long, value_name = "BYTES", default_value_t = 13, value_parser = parse_probe_size)]
    pub size: usize,
    /// How long to wait for the connection and for each echo.
    #[arg(long, value_name = "DUR", default_value = "2s", value_parser = parse_positive_duration)]
    pub timeout: Duration,
    /// One JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// Probes sent first and left out of the statistics (connection and cache warm-up).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub warmup: u64,
    #[command(flatten)]
    pub impair: ImpairOpts,
}

/// `echotui bench [HOST:PORT]`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The echo server; without it, an embedded server on a free loopback port.
    #[arg(value_name = "HOST:PORT", value_parser = parse_target)]
    pub target: Option<String>,
    /// Simultaneous connections [1..=1000]; a comma list compares several.
    #[arg(short, long, value_name = "N", default_value = "10", value_parser = parse_connections, value_delimiter = ',')]
    pub connections: Vec<usize>,
    /// How long to measure (after the warm-up).
    #[arg(short, long, value_name = "DUR", default_value = "3s", value_parser = parse_positive_duration)]
    pub duration: Duration,
    /// Message size in bytes [1..=1048576]; a comma list compares several.
    #[arg(short, long, value_name = "BYTES", default_value = "64", value_parser = parse_probe_size, value_delimiter = ',')]
    pub size: Vec<usize>,
    /// Messages in flight on each connection [1..=1024]; a comma list compares several.
    #[arg(short, long, value_name = "N", default_value = "1", value_parser = parse_pipeline, value_delimiter = ',')]
    pub pipeline: Vec<usize>,
    /// Messages each connection exchanges before measuring; they count in no figure.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub warmup: u64,
    /// One JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Most `bench` connections: beyond this a loopback run measures the file table, not echo.
pub const MAX_CONNECTIONS: usize = 1000;
/// Most messages in flight per `bench` connection (also bounds the payload ring it keeps).
pub const MAX_PIPELINE: usize = 1024;

/// Validates `HOST:PORT` syntax and the port range; the host is resolved later, at use.
pub fn parse_target(s: &str) -> Result<String, String> {
    units::parse_host_port(s, 1)
}

/// Like [`parse_target`], but port 0 asks the OS for a free port (handy for scripts and tests).
pub fn parse_listen(s: &str) -> Result<String, String> {
    units::parse_host_port(s, 0)
}

fn parse_clock(s: &str) -> Result<Clock, String> {
    match s {
        "kernel" => Ok(Clock::Kernel),
        "user" => Ok(Clock::User),
        _ => Err("expected kernel or user".to_owned()),
    }
}

/// `--read-size`: 1..=65536 bytes.
pub fn parse_read_size(s: &str) -> Result<usize, String> {
    units::parse_in_range(s, 1, MAX_READ_SIZE)
}

fn parse_probe_size(s: &str) -> Result<usize, String> {
    units::parse_in_range(s, 1, MAX_MESSAGE_SIZE)
}

fn parse_connections(s: &str) -> Result<usize, String> {
    units::parse_in_range(s, 1, MAX_CONNECTIONS)
}

fn parse_pipeline(s: &str) -> Result<usize, String> {
    units::parse_in_range(s, 1, MAX_PIPELINE)
}

fn parse_backlog(s: &str) -> Result<u32, String> {
    units::parse_in_range(s, 1, 65535)
}

fn parse_chunk(s: &str) -> Result<usize, String> {
    units::parse_in_range(s, 1, MAX_READ_SIZE)
}

fn parse_greeting(s: &str) -> Result<Bytes, String> {
    crate::text::unescape(s)
        .map(Bytes::from)
        .map_err(|e| e.to_string())
}

fn parse_count(s: &str) -> Result<u64, String> {
    units::parse_in_range(s, 1, u64::MAX)
}

/// A server limit: a count of at least 1.
pub fn parse_limit(s: &str) -> Result<u32, String> {
    units::parse_in_range(s, 1, u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_read_size("7"), Ok(7));
        assert!(parse_read_size("0").is_err());
        assert!(parse_read_size("65537").is_err());
        assert!(parse_probe_size("x").is_err());
        assert_eq!(parse_connections("1000"), Ok(1000));
        assert!(parse_connections("0").is_err());
        assert!(parse_connections("1001").is_err());
        assert_eq!(parse_pipeline("1024"), Ok(1024));
        assert!(parse_pipeline("0").is_err());
        assert!(parse_pipeline("1025").is_err());
    }
}
