//! The examples that end each `--help`: two or three command lines a user can copy.

pub const ECHOTUI: &str = "\
Examples:
  echotui                              the side-by-side UI: type Hello, World! and Enter
  echotui lesson byte-stream           a guided lesson (echotui lesson lists them)
  echotui --presenter --read-size 7    on a projector, with a 7-byte server buffer";

pub const SERVE: &str = "\
Examples:
  echotui serve --listen 0.0.0.0:12345 --mask-addresses   a classroom server on the projector
  echotui serve --headless --json                         JSON Lines for scripts
  echotui serve --udp --read-size 5                       UDP datagrams cut to 5 bytes";

pub const CONNECT: &str = "\
Examples:
  echotui connect 192.0.2.10:12345          the instructor's server
  echotui connect localhost:7 --udp         an inetd-style UDP echo service
  echotui connect [::1]:12345 --delay 50ms  through a link with 100 ms more RTT";

pub const PING: &str = "\
Examples:
  echotui ping                              10 probes of 13 bytes to an embedded server
  echotui ping 127.0.0.1:12345 -c 1000 -i 0 --json
  echotui ping --udp --loss 10% -c 100      lost probes counted exactly (exit 1)";

pub const BENCH: &str = "\
Examples:
  echotui bench -c 50 -d 5s                 50 connections for 5 seconds
  echotui bench 127.0.0.1:12345 -p 16 --json
  echotui bench --udp -s 512                UDP, 512-byte datagrams";

pub const LESSON: &str = "\
Examples:
  echotui lesson                            the lessons: name, steps, title
  echotui lesson loss --presenter           a lesson on the projector (→ or PgDn: next step)
  echotui lesson mine --lessons ~/lessons   one of your own, from ~/lessons/mine.toml";

pub const CONFIG: &str = "\
Examples:
  echotui config                            what is in force, and where each value came from
  echotui config > ~/.config/echotui/config.toml
  ECHOTUI_THEME=light echotui config        the environment wins over the file";

pub const COMPLETIONS: &str = "\
Examples:
  echotui completions bash > ~/.local/share/bash-completion/completions/echotui
  echotui completions zsh > ~/.zfunc/_echotui
  echotui completions fish > ~/.config/fish/completions/echotui.fish";

pub const MAN: &str = "\
Examples:
  echotui man | man -l -
  echotui man > ~/.local/share/man/man1/echotui.1";
