#!/usr/bin/env bash
# Load test of `echotui serve --headless --quiet` on loopback: throughput with many busy
# connections, then what many idle connections cost (ARCHITECTURE.md §2: bounded memory, an idle
# server idles).
#
# Usage: scripts/load.sh                                  (from anywhere; builds release first)
#        CONNS=200 DURATION=3s IDLE=2000 scripts/load.sh
#
#   CONNS     busy connections for `echotui bench` (default 500; bench takes 1..=1000)
#   DURATION  how long bench measures (default 5s; humantime syntax)
#   IDLE      idle TCP connections held open while the server is watched for 10 s (default 1000)
#   SCALE     size of the flood scenarios that follow, run by scripts/floods.sh (default 1:
#             full size; CI runs 0.1)
#
# Steps: build release; start the server with --max-conns 2000 --max-per-ip 2000 on
# 127.0.0.1:0 (address read from its first stdout line); (1) `echotui bench ADDR --connections
# CONNS --duration DURATION --size 32 --json`, sampling the server's RSS (VmRSS) during and
# after; (2) a python3 helper opens IDLE connections and holds them, and the server's RSS and
# CPU (utime+stime from /proc/PID/stat, in CLK_TCK ticks) are measured over 10 s. Prints a
# table. Everything started here is stopped on exit (trap). Needs python3, getconf, /proc,
# and a soft `ulimit -n` of at least IDLE+100 (raised here when the hard limit allows).
# Numbers are for notes, never for pass/fail.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

CONNS=${CONNS:-500}
DURATION=${DURATION:-5s}
IDLE=${IDLE:-1000}
IDLE_WINDOW=10 # seconds the idle server is watched

for tool in python3 getconf; do
    command -v "$tool" >/dev/null || { echo "error: $tool is needed" >&2; exit 2; }
done

# Every process started here inherits this limit: the server holds IDLE sockets (plus the
# listener), the python helper IDLE, bench CONNS.
need=$((IDLE > CONNS ? IDLE + 100 : CONNS + 100))
want=$((need > 4096 ? need : 4096))
if (($(ulimit -Sn) < want)); then
    hard=$(ulimit -Hn)
    if [[ $hard != unlimited ]] && ((hard < need)); then
        echo "error: IDLE=$IDLE needs 'ulimit -n' >= $need, but the hard limit is $hard;" \
            "raise it (as root, or in limits.conf) or lower IDLE" >&2
        exit 2
    fi
    if [[ $hard != unlimited ]] && ((hard < want)); then want=$hard; fi
    ulimit -Sn "$want" || { echo "error: cannot raise 'ulimit -n' to $want" >&2; exit 2; }
fi

cargo build --quiet --release --bin echotui
ECHOTUI=target/release/echotui
TICKS=$(getconf CLK_TCK)

WORK=$(mktemp -d)
SERVER_PID= BENCH_PID= HOLDER_PID=
cleanup() {
    for pid in $HOLDER_PID $BENCH_PID $SERVER_PID; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers -------------------------------------------------------------------------------

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; } # utime + stime
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
server_alive() { kill -0 "$SERVER_PID" 2>/dev/null || { echo "error: the server died:" >&2; cat "$WORK/serve.err" >&2; exit 1; }; }
# count_lines PATTERN: log lines of the (quiet) server matching PATTERN so far.
count_lines() { grep -c -- "$1" "$WORK/serve.out" || true; }

# --- the server ----------------------------------------------------------------------------

"$ECHOTUI" serve --headless --quiet --listen 127.0.0.1:0 --max-conns 2000 --max-per-ip 2000 \
    >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER_PID=$!
ADDR=
for _ in $(seq 100); do
    ADDR=$(head -n 1 "$WORK/serve.out" | grep -o '127\.0\.0\.1:[0-9]*' || true)
    [[ -n $ADDR ]] && break
    server_alive
    sleep 0.05
done
[[ -n $ADDR ]] || { echo "error: no 'listening on' line from the server" >&2; exit 1; }
echo "server pid $SERVER_PID on $ADDR; ulimit -n $(ulimit -Sn); CLK_TCK $TICKS" >&2
sleep 0.5
RSS_START=$(rss_kib "$SERVER_PID")

# --- (1) bench -----------------------------------------------------------------------------

echo "bench: $CONNS connections, $DURATION, 32 B messages ..." >&2
"$ECHOTUI" bench "$ADDR" --connections "$CONNS" --duration "$DURATION" --size 32 --json \
    >"$WORK/bench.json" 2>"$WORK/bench.err" &
BENCH_PID=$!
RSS_PEAK=$RSS_START
CPU_BENCH0=$(cpu_ticks "$SERVER_PID")
T_BENCH0=$(date +%s.%N)
while kill -0 "$BENCH_PID" 2>/dev/null; do
    server_alive
    rss=$(rss_kib "$SERVER_PID")
    ((rss > RSS_PEAK)) && RSS_PEAK=$rss
    sleep 0.2
done
BENCH_RC=0
wait "$BENCH_PID" || BENCH_RC=$?
BENCH_PID=
CPU_BENCH1=$(cpu_ticks "$SERVER_PID")
T_BENCH1=$(date +%s.%N)
if [[ ! -s $WORK/bench.json ]]; then
    echo "error: bench printed nothing (exit $BENCH_RC):" >&2
    cat "$WORK/bench.err" >&2
    exit 1
fi
read -r MSGS P99 ERRORS < <(python3 - "$WORK/bench.json" <<'PY'
import json, sys
bench = json.load(open(sys.argv[1]))
p99 = bench["rtt_us"]["p99"] if bench["rtt_us"] else float("nan")
print("%.0f %.1f %d" % (bench["msgs_per_s"], p99, bench["errors"]))
PY
)
# Let the server see the bench's closes before measuring "after".
for _ in $(seq 100); do
    (($(count_lines ' closed by peer') + $(count_lines ' reset') >= $(count_lines ' connected'))) && break
    sleep 0.1
done
sleep 1
RSS_AFTER_BENCH=$(rss_kib "$SERVER_PID")
TURNED_AWAY=$(count_lines 'turned away')

# --- (2) idle connections ------------------------------------------------------------------

echo "idle: $IDLE connections held for ${IDLE_WINDOW}s ..." >&2
CONNECTED_BEFORE=$(count_lines ' connected')
# Holds IDLE sockets open, says "ready N", then waits to be killed (or gives up after 60 s,
# so it can never outlive this script by much).
python3 - "$ADDR" "$IDLE" >"$WORK/holder.out" 2>&1 <<'PY' &
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
n = int(sys.argv[2])
socks = []
try:
    for _ in range(n):
        socks.append(socket.create_connection((host, int(port)), timeout=5))
except OSError as e:
    print(f"error: idle connection {len(socks) + 1} of {n}: {e}", flush=True)
    sys.exit(1)
print(f"ready {len(socks)}", flush=True)
time.sleep(60)
PY
HOLDER_PID=$!
for _ in $(seq 300); do
    grep -q '^ready' "$WORK/holder.out" && break
    if ! kill -0 "$HOLDER_PID" 2>/dev/null; then
        echo "error: the idle-connection helper failed:" >&2
        cat "$WORK/holder.out" >&2
        exit 1
    fi
    sleep 0.1
done
grep -q '^ready' "$WORK/holder.out" || { echo "error: $IDLE connections not open after 30 s" >&2; exit 1; }
# The server has admitted them all (its log is flushed on a short tick).
for _ in $(seq 100); do
    (($(count_lines ' connected') - CONNECTED_BEFORE >= IDLE)) && break
    sleep 0.1
done
ADMITTED=$(($(count_lines ' connected') - CONNECTED_BEFORE))
sleep 1 # let the accept burst settle before watching the idle server
RSS_IDLE0=$(rss_kib "$SERVER_PID")
CPU_IDLE0=$(cpu_ticks "$SERVER_PID")
sleep "$IDLE_WINDOW"
server_alive
CPU_IDLE1=$(cpu_ticks "$SERVER_PID")
RSS_IDLE1=$(rss_kib "$SERVER_PID")
kill "$HOLDER_PID" 2>/dev/null || true
wait "$HOLDER_PID" 2>/dev/null || true
HOLDER_PID=

# --- report --------------------------------------------------------------------------------

BENCH_CPU=$(awk -v t="$((CPU_BENCH1 - CPU_BENCH0))" -v hz="$TICKS" -v a="$T_BENCH0" -v b="$T_BENCH1" \
    'BEGIN { printf "%.0f%% of one core (%d ticks in %.1f s)", 100 * t / hz / (b - a), t, b - a }')
IDLE_TICKS=$((CPU_IDLE1 - CPU_IDLE0))
IDLE_CPU=$(awk -v t="$IDLE_TICKS" -v hz="$TICKS" -v s="$IDLE_WINDOW" \
    'BEGIN { printf "%.2f%% of one core (%d ticks in %d s)", 100 * t / hz / s, t, s }')
PER_CONN=$(awk -v a="$RSS_IDLE0" -v b="$RSS_AFTER_BENCH" -v n="$IDLE" \
    'BEGIN { printf "%.1f KiB", (a - b) / n }')

printf '\n%-34s %-22s %s\n' "phase" "measure" "value"
printf '%-34s %-22s %s\n' "----------------------------------" "----------------------" "--------------------------"
printf '%-34s %-22s %s\n' "server started" "RSS" "$(mib "$RSS_START")"
printf '%-34s %-22s %s\n' "bench $CONNS conns, $DURATION, 32 B" "messages/s" "$MSGS"
printf '%-34s %-22s %s\n' "" "p99 RTT" "$P99 µs"
printf '%-34s %-22s %s\n' "" "errors" "$ERRORS (bench exit $BENCH_RC)"
printf '%-34s %-22s %s\n' "" "turned away" "$TURNED_AWAY"
printf '%-34s %-22s %s\n' "" "server CPU" "$BENCH_CPU"
printf '%-34s %-22s %s\n' "" "server RSS peak" "$(mib "$RSS_PEAK")"
printf '%-34s %-22s %s\n' "" "server RSS after" "$(mib "$RSS_AFTER_BENCH")"
printf '%-34s %-22s %s\n' "idle $IDLE conns, ${IDLE_WINDOW} s" "admitted" "$ADMITTED"
printf '%-34s %-22s %s\n' "" "server RSS" "$(mib "$RSS_IDLE0") → $(mib "$RSS_IDLE1")"
printf '%-34s %-22s %s\n' "" "RSS per idle conn" "$PER_CONN"
printf '%-34s %-22s %s\n' "" "server CPU" "$IDLE_CPU"

# The floods and faults, at their own size.
SCALE=${SCALE:-1} bash scripts/floods.sh
