#!/usr/bin/env bash
# Floods and faults at full size (README, "What echotui promises"): what a hostile student on
# the classroom network can do to `echotui serve`, and what it costs. Run by scripts/load.sh
# (or alone). Numbers are for notes, never for pass/fail: the machine is shared and noisy.
#
# Usage: scripts/floods.sh                 (from anywhere; builds release first; ~1-2 min)
#        SCALE=0.1 scripts/floods.sh       (a smoke run: every scenario, a tenth of the size)
#
# Scenarios (each against a fresh server on loopback or 0.0.0.0, stopped afterwards):
#   (1) UDP flood from one non-loopback source (rate-limited: loopback is exempt) at
#       `serve --headless --json --quiet --udp`, 8 s: log lines and bytes, server RSS, and how
#       many of 40 probes from another source (loopback) were answered meanwhile;
#   (2) 4 x 10,000 fresh UDP sources, one datagram each, at the UI (`serve --udp` in a private
#       tmux): the UI's CPU per batch (it must not grow batch after batch), RSS, what the
#       roster says (UDP sources are bounded and never "open connections");
#   (3) 500 clients connect, echo and leave while the terminal showing the UI is stopped
#       (SIGSTOP on its tmux server) for 10 s: after SIGCONT the roster must say 0 open;
#   (4) 10,000 connect/close and connect/reset cycles: the server's fds and RSS before/after;
#   (5) one client streaming 64 KiB messages flat out beside a quiet `ping` (300 probes, one
#       every 20 ms): the quiet client's p50/p90/p99, against the same ping without the stream.
# Needs python3, tmux, /proc; a non-loopback IPv4 address for (1) (skipped, saying so, without).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SCALE=${SCALE:-1}
scaled() { python3 -c "import math,sys; print(max(1, math.ceil($1 * $SCALE)))"; }
FLOOD_SECS=$(scaled 8)
SOURCES=$(scaled 10000)
STALLED_CLIENTS=$(scaled 500)
CYCLES=$(scaled 10000)
STREAM_SECS=$(scaled 10)

for tool in python3 tmux; do
    command -v "$tool" >/dev/null || { echo "error: $tool is needed" >&2; exit 2; }
done
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true

cargo build --quiet --release --bin echotui --example udp_flood
ECHOTUI=target/release/echotui
FLOOD=target/release/examples/udp_flood
TICKS=$(getconf CLK_TCK)

WORK=$(mktemp -d)
PIDS=()
TMUX_SOCK=$WORK/tmux
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -CONT "$pid" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
    done
    tmux -S "$TMUX_SOCK" kill-server 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
fds() { ls "/proc/$1/fd" | wc -l; }

# start_headless ARGS...: a `serve --headless` on a free port; sets PID and PORT.
start_headless() {
    "$ECHOTUI" serve --headless "$@" >"$WORK/log" 2>/dev/null &
    PID=$!
    PIDS+=("$PID")
    for _ in $(seq 50); do
        [[ -s $WORK/log ]] && break
        sleep 0.1
    done
    PORT=$(head -1 "$WORK/log" | python3 -c "import sys,json; print(json.load(sys.stdin)['addr'].rsplit(':',1)[1])")
}

# start_tui ARGS...: the UI in a private tmux (120x40); sets PID (echotui) and PORT.
start_tui() {
    tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -s ui -x 120 -y 40 "$ECHOTUI $*"
    for _ in $(seq 50); do
        PID=$(pgrep -n -f "^$ECHOTUI serve" || true)
        [[ -n $PID ]] && break
        sleep 0.1
    done
    sleep 0.5
    PORT=$(tmux -S "$TMUX_SOCK" capture-pane -p -t ui | grep -o 'listening on [0-9.]*:[0-9]*' | head -1 | rsplit_port)
}
rsplit_port() { sed 's/.*://'; }
# first_chars N: the first N characters of stdin (not bytes: the screen is UTF-8).
first_chars() { python3 -c "import sys; print(sys.stdin.read().strip()[:$1])"; }
screen() { tmux -S "$TMUX_SOCK" capture-pane -p -t ui; }
stop_tui() { tmux -S "$TMUX_SOCK" kill-server 2>/dev/null || true; sleep 0.3; }

declare -a REPORT

# --- (1) UDP flood, one source ------------------------------------------------------------------
IP=$(python3 - <<'EOF'
import socket
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(("192.0.2.1", 9))
    ip = s.getsockname()[0]
    print("" if ip.startswith("127.") else ip)
except OSError:
    print("")
EOF
)
if [[ -z $IP ]]; then
    REPORT+=("(1) UDP flood: skipped (no non-loopback IPv4 address)")
else
    start_headless --json --quiet --udp --listen 0.0.0.0:0
    before=$(rss_kib "$PID")
    "$FLOOD" "$IP:$PORT" "$FLOOD_SECS" --from "$IP" >"$WORK/flood.json" &
    FLOOD_PID=$!
    sleep 1
    answered=$("$ECHOTUI" ping --udp "127.0.0.1:$PORT" -c 40 -i 100ms --timeout 500ms --json |
        python3 -c "import sys,json; print(json.load(sys.stdin)['received'])")
    wait "$FLOOD_PID"
    after=$(rss_kib "$PID")
    kill "$PID"; wait "$PID" 2>/dev/null || true
    sent=$(python3 -c "import json; print(json.load(open('$WORK/flood.json'))['sent'])")
    read -r lines bytes < <(wc -lc <"$WORK/log")
    unanswered=$(tail -1 "$WORK/log" | python3 -c "import sys,json; print(json.load(sys.stdin)['unanswered_datagrams'])")
    REPORT+=("(1) UDP flood ${FLOOD_SECS}s from $IP: $sent sent, $unanswered refused and counted; log $lines lines, $bytes bytes; server RSS $before -> $after KiB; loopback probes answered meanwhile: $answered/40")
fi

# --- (2) fresh UDP sources at the UI -------------------------------------------------------------
start_tui serve --udp --listen 127.0.0.1:0
cpu=()
rss=("$(rss_kib "$PID")")
for batch in 1 2 3 4; do
    t0=$(cpu_ticks "$PID")
    python3 - "$PORT" "$SOURCES" <<'EOF'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"hello", ("127.0.0.1", port))
    s.close()
EOF
    sleep 2
    cpu+=("$(( $(cpu_ticks "$PID") - t0 ))")
    rss+=("$(rss_kib "$PID")")
done
rule=$(screen | grep -o '── UDP.*' | head -1 | first_chars 110)
stop_tui
REPORT+=("(2) 4 x $SOURCES fresh UDP sources: UI CPU per batch ${cpu[*]} ticks (1/$TICKS s); RSS ${rss[*]} KiB; the rule line: $rule")

# --- (3) clients while the terminal is stopped --------------------------------------------------
start_tui serve --max-conns 600 --max-per-ip 600 --listen 127.0.0.1:0
TMUX_PID=$(tmux -S "$TMUX_SOCK" display-message -p '#{pid}')
kill -STOP "$TMUX_PID"
python3 - "$PORT" "$STALLED_CLIENTS" <<'EOF'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
for i, c in enumerate(clients):
    c.sendall(b"hello %d\n" % i)
for c in clients:
    c.settimeout(10)
    c.recv(64)
for c in clients:
    c.close()
EOF
sleep 10
kill -CONT "$TMUX_PID"
sleep 3
rule=$(screen | grep -o '── TCP.*' | head -1 | first_chars 100)
behind=$(screen | grep -o 'UI behind: [0-9]* events not shown' | head -1 || true)
stop_tui
REPORT+=("(3) $STALLED_CLIENTS clients while the terminal was stopped 10 s: after SIGCONT the rule line reads: $rule; status: ${behind:-no events dropped}")

# --- (4) connect/close and connect/reset cycles ---------------------------------------------------
start_headless --json --quiet --max-conns 2000 --max-per-ip 2000 --listen 127.0.0.1:0
fd_before=$(fds "$PID"); rss_before=$(rss_kib "$PID")
python3 - "$PORT" "$CYCLES" <<'EOF'
import socket, struct, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    if i % 2:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
EOF
sleep 2
fd_after=$(fds "$PID"); rss_after=$(rss_kib "$PID")
kill "$PID"; wait "$PID" 2>/dev/null || true
REPORT+=("(4) $CYCLES connect/close and connect/reset cycles: server fds $fd_before -> $fd_after, RSS $rss_before -> $rss_after KiB")

# --- (5) a stream beside a quiet client -------------------------------------------------------------
start_headless --json --quiet --listen 127.0.0.1:0
quiet() {
    "$ECHOTUI" ping "127.0.0.1:$PORT" -c "$(scaled 300)" -i 20ms --json |
        python3 -c "import sys,json; r=json.load(sys.stdin)['rtt_us']; print(f\"p50 {r['p50']:.0f}µs p90 {r['p90']:.0f}µs p99 {r['p99']:.0f}µs\")"
}
alone=$(quiet)
"$ECHOTUI" bench "127.0.0.1:$PORT" -c 1 -s 65536 -p 4 -d "${STREAM_SECS}s" --json >"$WORK/stream.json" &
STREAM_PID=$!
sleep 1
beside=$(quiet)
wait "$STREAM_PID" || true
mib=$(python3 -c "import json; print(round(json.load(open('$WORK/stream.json'))['mib_per_s']))")
kill "$PID"; wait "$PID" 2>/dev/null || true
REPORT+=("(5) a quiet ping alone: $alone; beside a ${mib} MiB/s stream: $beside")

echo
echo "== floods and faults (SCALE=$SCALE) =="
for line in "${REPORT[@]}"; do
    echo "$line"
done
