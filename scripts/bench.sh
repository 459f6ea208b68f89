#!/usr/bin/env bash
# RTT overhead of `echotui ping` against a minimal blocking std::net client, measured in the
# same run on the same server (DESIGN.md §8).
#
# Usage: scripts/bench.sh            (from anywhere; builds release binaries first)
#        ROUNDS=9 scripts/bench.sh   (rounds per server, default 5)
#        COUNT=20000 SIZE=16         (probes per client run and probe size, the defaults)
#
# For each server -- examples/ref_echo_server.rs (blocking, thread per connection) and
# `echotui serve --headless --quiet` -- it runs ROUNDS rounds of the reference client
# (examples/ref_ping.rs) and `echotui ping -i 0 --json`, alternating which goes first.
# Server and clients are all pinned to CPU 0: on these 2-vCPU machines a loopback ping-pong
# across CPUs is 4-6x slower than on one CPU, and an unpinned run lands in either mode at
# random. It prints each round's p50s and their ratio (echotui / reference), then the median
# p50 of each client, the ratio of medians, and the min and max per-round ratio.
# Numbers are for closing notes, never for pass/fail.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS=${ROUNDS:-5}
COUNT=${COUNT:-20000}
SIZE=${SIZE:-16}

if command -v taskset >/dev/null; then
    PIN=(taskset -c 0)
else
    echo "warning: taskset not found; running UNPINNED, RTTs may vary up to 4.5x between runs" >&2
    PIN=()
fi

cargo build --quiet --release --bin echotui --examples
BIN=target/release
REF_PING=$BIN/examples/ref_ping
REF_SERVER=$BIN/examples/ref_echo_server
ECHOTUI=$BIN/echotui

WORK=$(mktemp -d)
SERVER_PID=
stop_server() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
trap 'stop_server; rm -rf "$WORK"' EXIT

# start_server NAME CMD...: runs CMD pinned in the background and sets ADDR from the first
# "127.0.0.1:PORT" on its stdout (both servers print their bound address on their first line).
start_server() {
    local name=$1 log=$WORK/$1.out line=
    shift
    "${PIN[@]}" "$@" >"$log" 2>"$WORK/$name.err" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        line=$(head -n 1 "$log")
        [[ -n $line ]] && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/$name.err" >&2; exit 1; }
        sleep 0.05
    done
    ADDR=$(grep -oE '[0-9]+(\.[0-9]+){3}:[0-9]+' <<<"$line" | head -n 1) ||
        { echo "error: $name printed no address in 5 s: '$line'" >&2; exit 1; }
}

# json_field FIELD.PATH: reads one JSON object on stdin and prints the field.
json_field() {
    python3 -c 'import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1].split("."):
    value = value[key]
print(value)' "$1"
}

ref_p50() { "${PIN[@]}" "$REF_PING" "$ADDR" "$COUNT" "$SIZE" | json_field p50_us; }
echotui_p50() {
    "${PIN[@]}" "$ECHOTUI" ping "$ADDR" -i 0 -c "$COUNT" -s "$SIZE" --json | json_field rtt_us.p50
}

# compare TITLE: runs the alternating rounds against the server at ADDR and prints the table.
compare() {
    local refs=() ours=() ref ours_p50
    for round in $(seq "$ROUNDS"); do
        # Alternate the order so that neither client always runs on a warmer machine.
        if ((round % 2)); then
            ref=$(ref_p50)
            ours_p50=$(echotui_p50)
        else
            ours_p50=$(echotui_p50)
            ref=$(ref_p50)
        fi
        refs+=("$ref")
        ours+=("$ours_p50")
    done
    python3 - "$1" "${refs[*]}" "${ours[*]}" <<'EOF'
import statistics, sys
title, refs, ours = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
refs, ours = [float(x) for x in refs], [float(x) for x in ours]
ratios = [o / r for r, o in zip(refs, ours)]
print(f"\n{title}")
print(f"{'round':>6} {'ref p50 µs':>11} {'echotui p50 µs':>15} {'ratio':>7}")
for i, (r, o, q) in enumerate(zip(refs, ours, ratios), 1):
    print(f"{i:>6} {r:>11.2f} {o:>15.2f} {q:>7.3f}")
mr, mo = statistics.median(refs), statistics.median(ours)
print(f"{'median':>6} {mr:>11.2f} {mo:>15.2f} {mo / mr:>7.3f}  (ratio of medians)")
print(f"per-round ratio: min {min(ratios):.3f}, max {max(ratios):.3f}")
EOF
}

pinning=${PIN[*]:-unpinned}
echo "echotui ping vs ref_ping: $ROUNDS rounds x $COUNT probes of $SIZE B, all on '$pinning'"

start_server ref_echo_server "$REF_SERVER" 127.0.0.1:0
compare "server: ref_echo_server (blocking std::net) on $ADDR"
stop_server

start_server echotui_serve "$ECHOTUI" serve --headless --quiet --listen 127.0.0.1:0
compare "server: echotui serve --headless --quiet on $ADDR"
stop_server
