#!/usr/bin/env bash
# Measures echotui against minimal references run in the same session (ARCHITECTURE.md §7):
#   (1) RTT overhead of `echotui ping` against a blocking std::net client, pinned to one CPU;
#   (2) server throughput: `echotui serve` vs a minimal tokio echo server, same load generator;
#   (3) load generator: `echotui bench` vs a minimal tokio load generator, same server;
#   (4) memory: `echotui serve` RSS before, after and at peak over ~10 million echoes;
#   (5) idle CPU of the full terminal UI (in a detached tmux) over 10 s;
#   (6) impairment accuracy: `echotui ping --delay D` against 2·D + the clean RTT, pinned;
#   (7) RTT at an interactive pace (a probe every 200 ms), as (1), both clocks;
# then one summary table with each measure's target.
#
# Usage: scripts/bench.sh            (from anywhere; builds release binaries first; ~3-6 min)
#        QUICK=1 scripts/bench.sh    (~1 min: fewer rounds, shorter runs, 2M echoes, 5 s idle)
#        ROUNDS=9 scripts/bench.sh   (rounds per comparison, default 5, QUICK 3)
#        COUNT=20000 SIZE=16         (probes per ping run and probe size; QUICK: COUNT 5000)
#        LOAD_SECS=3                 (seconds per throughput run; QUICK: 1)
#        MEM_MSGS=10000000 MEM_BUDGET=120 MEM_CHUNK=5
#                                    (echoes wanted, max seconds of load, seconds per bench
#                                     run; QUICK: 2000000, 20, 2)
#        IDLE_SECS=10                (idle CPU window; QUICK: 5)
#        IMPAIR_SECS=4               (seconds per delayed ping run in (6); QUICK: 2)
#        PACED_COUNT=50 PACED_MS=200 (probes and pause between them in (7); QUICK: 20 probes)
#        SECTIONS="1 6"              (only these sections; default all: "1 2 3 4 5 6 7")
#
# (1) For each server -- examples/ref_echo_server.rs (blocking, thread per connection) and
# `echotui serve --headless --quiet` -- it runs ROUNDS rounds of the reference client
# (examples/ref_ping.rs) and `echotui ping -i 0 --json` with each clock (`--clock kernel`:
# RTTs end at the kernel's receive timestamps; `--clock user`: when echotui's read returns,
# as the reference's do), the reference first in odd rounds and last in even ones.
# Server and clients are all pinned to CPU 0: on these 2-vCPU machines a loopback ping-pong
# across CPUs is 4-6x slower than on one CPU, and an unpinned run lands in either mode at
# random. It prints each round's p50s and their ratios (echotui / reference), then the median
# p50 of each client and the ratio of medians; the summary adds the per-round range. Targets
# on the reference server: kernel clock <= 1.00, user clock <= 1.10.
# (7) is (1) at an interactive pace, on the reference server: PACED_COUNT probes, one every
# PACED_MS (both clients sleep in between, as when someone types). Target: kernel clock
# <= 1.00 (our wake-up after the sleep is what the kernel's clock leaves out).
# (2)-(3) run unpinned (throughput needs both CPUs), ROUNDS alternating rounds each, with 10
# connections of 64 B and one message in flight each (echotui bench's defaults), and report
# the median msgs/s of each side and the ratio of medians (echotui / reference). References:
# examples/ref_tokio_echo.rs (server) and examples/ref_load.rs (load generator). `echotui
# serve` keeps its census's socket duplicates, `echotui bench` reads with kernel timestamps
# (its default; (3) also runs it with `--clock user`, without them). Target for all: >= 1.0.
# (4) drives a fresh `echotui serve` with `echotui bench -c 10 -p 16 -s 16` in MEM_CHUNK-second
# runs until MEM_MSGS echoes (summing bench's JSON `messages`) or MEM_BUDGET seconds, reading
# VmRSS after each run and VmHWM (the kernel's peak RSS) at the end. "Flat" means at most
# 1 MiB of growth between the end of the first run and the end of the last.
# (5) sums the first field of /proc/PID/task/*/schedstat (ns on CPU) of `echotui` over
# IDLE_SECS, from 2 s after launch. The UI listens on 127.0.0.1:12345, its fixed default.
# (6) runs `echotui ping -i 0` through its impairment proxy to a pinned `echotui serve`, all on
# CPU 0, ROUNDS rounds in alternating order of: a clean link (which bypasses the proxy); TCP
# with `--loss 30%`, which TCP ignores (target: < 100 µs above clean); and `--delay D` for D =
# 1, 10 and 50 ms (COUNT probes, or IMPAIR_SECS worth of 2·D round trips, at least 20). Beside
# each delay it runs a clean ping with `-i 2D`: its server sleeps as long between probes as the
# one behind the delay does, and pays the same wake-up (cold caches, the scheduler) that a
# real netem link would show too. Target: median p50 < 2·D + that paced clean median p50 +
# 100 µs; the table also gives the overshoot against the back-to-back clean p50. CPU time is
# the ping process's (proxy included) user + system time, from getrusage. ping's histogram
# keeps 4 significant digits and reads a bucket's middle: within 3 µs at 50 ms.
# Everything listens on 127.0.0.1 only; everything started here is stopped on exit (trap).
# Numbers are for closing notes, never for pass/fail.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ${QUICK:-0} != 0 ]]; then
    QUICK=1
    ROUNDS=${ROUNDS:-3} COUNT=${COUNT:-5000} LOAD_SECS=${LOAD_SECS:-1}
    MEM_MSGS=${MEM_MSGS:-2000000} MEM_BUDGET=${MEM_BUDGET:-20} MEM_CHUNK=${MEM_CHUNK:-2}
    IDLE_SECS=${IDLE_SECS:-5} IMPAIR_SECS=${IMPAIR_SECS:-2} PACED_COUNT=${PACED_COUNT:-20}
else
    QUICK=0
fi
ROUNDS=${ROUNDS:-5}
COUNT=${COUNT:-20000}
SIZE=${SIZE:-16}
LOAD_SECS=${LOAD_SECS:-3}
MEM_MSGS=${MEM_MSGS:-10000000}
MEM_BUDGET=${MEM_BUDGET:-120}
MEM_CHUNK=${MEM_CHUNK:-5}
IDLE_SECS=${IDLE_SECS:-10}
IMPAIR_SECS=${IMPAIR_SECS:-4}
PACED_COUNT=${PACED_COUNT:-50}
PACED_MS=${PACED_MS:-200}
SECTIONS=${SECTIONS:-1 2 3 4 5 6 7}
LOAD_CONNS=10 # echotui bench's default
LOAD_SIZE=64  # echotui bench's default
MEM_MAX_MIB=32
IDLE_MAX_PCT=0.5
IMPAIR_MAX_US=100 # what the proxy may add to a round trip beyond what was asked

# want N: whether section N is among SECTIONS.
want() { [[ " $SECTIONS " == *" $1 "* ]]; }

tools=(python3 getconf)
want 5 && tools+=(tmux)
for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done
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
REF_TOKIO_ECHO=$BIN/examples/ref_tokio_echo
REF_LOAD=$BIN/examples/ref_load
ECHOTUI=$BIN/echotui

WORK=$(mktemp -d)
SUMMARY=$WORK/summary.tsv # one row per measure: measure, reference, echotui, ratio, target, met?
TMUX_SOCK=$WORK/tmux.sock
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
SERVER_PID=
PIDS=() # servers still running, for the trap
stop_server() {
    local pid running=()
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        # Forget it, so that the trap never signals a recycled PID.
        for pid in "${PIDS[@]}"; do
            [[ $pid == "$SERVER_PID" ]] || running+=("$pid")
        done
        PIDS=("${running[@]}")
        SERVER_PID=
    fi
}
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -S $TMUX_SOCK ]]; then
        tmux -S "$TMUX_SOCK" kill-server 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME CMD...: runs CMD in the background (callers put "${PIN[@]}" first to pin
# it) and sets SERVER_PID, and ADDR from the first "127.0.0.1:PORT" on its stdout (all servers
# here print their bound address on their first line).
start_server() {
    local name=$1 log=$WORK/$1.out line=
    shift
    "$@" >"$log" 2>"$WORK/$name.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
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

# rss_mib PID [FIELD]: VmRSS (or another /proc/PID/status field, e.g. VmHWM) of PID in MiB.
rss_mib() { awk -v f="${2:-VmRSS}:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# cpu_ns PID: nanoseconds on CPU summed over PID's threads (schedstat's first field).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d", s }'; }

# ---------------------------------------------------------------------------------------------
# (1) RTT overhead, everything pinned to CPU 0.

# ref_p50: one run of the reference client against ADDR (PROBES probes of SIZE bytes, one every
# INTERVAL_MS); prints its p50 µs.
ref_p50() {
    "${PIN[@]}" "$REF_PING" "$ADDR" "$PROBES" "$SIZE" "$INTERVAL_MS" | json_field p50_us
}
# echotui_p50 ARGS...: one `echotui ping` run against ADDR, the same probes at the same pace,
# with ARGS (the clock); prints its p50 µs.
echotui_p50() {
    "${PIN[@]}" "$ECHOTUI" ping "$ADDR" -i "${INTERVAL_MS}ms" -c "$PROBES" -s "$SIZE" --json "$@" |
        json_field rtt_us.p50
}

# compare TITLE VARIANT...: ROUNDS rounds against the server at ADDR of the reference client
# and each VARIANT ("measure|target|echotui ping args"; target "-" for none), the reference
# first in odd rounds and last in even ones (the variants reversed), so that no client always
# runs on a warmer machine. Prints each round's p50s and ratios (echotui / reference), the
# medians and the ratio of medians, and adds one summary row per variant, met when the ratio
# of medians is at most its target.
compare() {
    local title=$1 round i p50 args
    shift
    local variants=("$@") runs=$WORK/compare.tsv # round, column (0: reference), p50 µs
    : >"$runs"
    for round in $(seq "$ROUNDS"); do
        local order=()
        for i in "${!variants[@]}"; do order+=("$((i + 1))"); done
        if ((round % 2)); then order=(0 "${order[@]}"); else
            local reversed=()
            for ((i = ${#order[@]} - 1; i >= 0; i--)); do reversed+=("${order[i]}"); done
            order=("${reversed[@]}" 0)
        fi
        for i in "${order[@]}"; do
            if ((i == 0)); then
                p50=$(ref_p50)
            else
                IFS='|' read -r _ _ args <<<"${variants[i - 1]}"
                read -r -a args <<<"$args"
                p50=$(echotui_p50 "${args[@]}")
            fi
            printf '%s\t%s\t%s\n' "$round" "$i" "$p50" >>"$runs"
        done
    done
    python3 - "$title" "$runs" "$SUMMARY" "${variants[@]}" <<'PY'
import statistics, sys
title, runs, summary = sys.argv[1:4]
variants = [v.split("|") for v in sys.argv[4:]]
p50 = {}
for line in open(runs):
    r, column, value = line.split()
    p50[(int(r), int(column))] = float(value)
rounds = sorted({r for r, _ in p50})
names = ["ref"] + [args or "default" for _, _, args in variants]
print(f"\n{title}")
print(f"{'round':>6} " + " ".join(f"{n + ' p50 µs':>22}" for n in names) + "   ratios")
for r in rounds:
    ref = p50[(r, 0)]
    cells = " ".join(f"{p50[(r, c)]:>22.2f}" for c in range(len(names)))
    ratios = " ".join(f"{p50[(r, c)] / ref:.3f}" for c in range(1, len(names)))
    print(f"{r:>6} {cells}   {ratios}")
medians = [statistics.median(p50[(r, c)] for r in rounds) for c in range(len(names))]
print(f"{'median':>6} " + " ".join(f"{m:>22.2f}" for m in medians) + "   " +
      " ".join(f"{m / medians[0]:.3f}" for m in medians[1:]) + "  (ratio of medians)")
with open(summary, "a") as out:
    for c, (measure, target, _) in enumerate(variants, 1):
        ratio = medians[c] / medians[0]
        per_round = [p50[(r, c)] / p50[(r, 0)] for r in rounds]
        shown = f"{ratio:.3f} ({min(per_round):.2f}-{max(per_round):.2f})"
        met = "-" if target == "-" else ("yes" if ratio <= float(target) else "NO")
        print(measure, f"{medians[0]:.2f}", f"{medians[c]:.2f}", shown,
              "-" if target == "-" else f"<= {target}", met, sep="\t", file=out)
PY
}

pinning=${PIN[*]:-unpinned}
if want 1; then
    echo "echotui ping vs ref_ping: $ROUNDS rounds x $COUNT probes of $SIZE B back to back (-i 0)," \
        "all on '$pinning'"
    PROBES=$COUNT INTERVAL_MS=0

    start_server ref_echo_server "${PIN[@]}" "$REF_SERVER" 127.0.0.1:0
    compare "server: ref_echo_server (blocking std::net) on $ADDR" \
        "(1) ping p50 µs -i 0, kernel clock, on ref_echo_server|1.00|--clock kernel" \
        "(1) ping p50 µs -i 0, user clock, on ref_echo_server|1.10|--clock user"
    stop_server

    start_server echotui_serve "${PIN[@]}" "$ECHOTUI" serve --headless --quiet --listen 127.0.0.1:0
    compare "server: echotui serve --headless --quiet on $ADDR" \
        "(1) ping p50 µs -i 0, kernel clock, on echotui serve|-|--clock kernel" \
        "(1) ping p50 µs -i 0, user clock, on echotui serve|-|--clock user"
    stop_server
fi

# ---------------------------------------------------------------------------------------------
# (2) and (3): throughput, unpinned, alternating rounds.

# alternate TITLE MEASURE TARGET REF_LABEL REF_FN OURS_LABEL OURS_FN: ROUNDS rounds of REF_FN
# and OURS_FN (each prints msgs/s), alternating which goes first; prints the table and adds
# MEASURE to the summary, met when median(ours) / median(ref) >= TARGET.
alternate() {
    local title=$1 measure=$2 target=$3 ref_label=$4 ref_fn=$5 ours_label=$6 ours_fn=$7
    local refs=() ours=() round
    for round in $(seq "$ROUNDS"); do
        if ((round % 2)); then
            refs+=("$($ref_fn)")
            ours+=("$($ours_fn)")
        else
            ours+=("$($ours_fn)")
            refs+=("$($ref_fn)")
        fi
    done
    python3 - "$title" "$measure" "$target" "$ref_label" "$ours_label" "${refs[*]}" "${ours[*]}" \
        "$SUMMARY" <<'EOF'
import statistics, sys
title, measure, target, ref_label, ours_label = sys.argv[1:6]
refs = [float(x) for x in sys.argv[6].split()]
ours = [float(x) for x in sys.argv[7].split()]
target = float(target)
ratios = [o / r for r, o in zip(refs, ours)]
wr, wo = len(ref_label) + 7, len(ours_label) + 7
print(f"\n{title}")
print(f"{'round':>6} {ref_label + ' msgs/s':>{wr}} {ours_label + ' msgs/s':>{wo}} {'ratio':>7}")
for i, (r, o, q) in enumerate(zip(refs, ours, ratios), 1):
    print(f"{i:>6} {r:>{wr},.0f} {o:>{wo},.0f} {q:>7.3f}")
mr, mo = statistics.median(refs), statistics.median(ours)
ratio = mo / mr
print(f"{'median':>6} {mr:>{wr},.0f} {mo:>{wo},.0f} {ratio:>7.3f}  (ratio of medians)")
print(f"per-round ratio: min {min(ratios):.3f}, max {max(ratios):.3f}")
with open(sys.argv[8], "a") as summary:
    print(measure, f"{mr:,.0f}", f"{mo:,.0f}", f"{ratio:.3f}", f">= {target:g}",
          "yes" if ratio >= target else "NO", sep="\t", file=summary)
EOF
}

# ref_load_on ADDR / bench_on ADDR: one throughput run; prints msgs/s.
ref_load_on() { "$REF_LOAD" "$1" "$LOAD_CONNS" "$LOAD_SECS" "$LOAD_SIZE" | json_field msgs_per_s; }
bench_on() {
    "$ECHOTUI" bench "$1" -c "$LOAD_CONNS" -s "$LOAD_SIZE" -d "${LOAD_SECS}s" --json "${@:2}" |
        json_field msgs_per_s
}
load_tokio_echo() { ref_load_on "$TOKIO_ADDR"; }
load_echotui_serve() { ref_load_on "$SERVE_ADDR"; }
bench_tokio_echo() { bench_on "$TOKIO_ADDR"; }
bench_tokio_echo_user_clock() { bench_on "$TOKIO_ADDR" --clock user; }

if want 2 || want 3; then
    echo
    echo "throughput, unpinned: $ROUNDS rounds x $LOAD_SECS s of $LOAD_CONNS connections x $LOAD_SIZE B," \
        "1 message in flight each; ratio = echotui / reference, higher is better"

    start_server ref_tokio_echo "$REF_TOKIO_ECHO" 127.0.0.1:0
    TOKIO_ADDR=$ADDR TOKIO_PID=$SERVER_PID
    if want 2; then
        start_server echotui_serve "$ECHOTUI" serve --headless --quiet --listen 127.0.0.1:0
        SERVE_ADDR=$ADDR
        alternate "(2) server throughput: ref_load against ref_tokio_echo ($TOKIO_ADDR) and echotui serve ($SERVE_ADDR)" \
            "(2) server msgs/s, ref_load driving" 1.0 \
            ref_tokio_echo load_tokio_echo "echotui serve" load_echotui_serve
        stop_server # echotui serve; ref_tokio_echo stays up for (3)
    fi
    if want 3; then
        alternate "(3) load generator: ref_load and echotui bench against ref_tokio_echo ($TOKIO_ADDR)" \
            "(3) client msgs/s on ref_tokio_echo, kernel clock" 1.0 \
            ref_load load_tokio_echo "echotui bench" bench_tokio_echo
        alternate "(3) the same, echotui bench --clock user (no kernel timestamps)" \
            "(3) client msgs/s on ref_tokio_echo, user clock" 1.0 \
            ref_load load_tokio_echo "echotui bench --clock user" bench_tokio_echo_user_clock
    fi
    SERVER_PID=$TOKIO_PID
    stop_server
fi

# ---------------------------------------------------------------------------------------------
# (4) Server memory over many echoes.

if want 4; then
    echo
    echo "(4) memory: a fresh echotui serve driven by echotui bench -c 10 -p 16 -s 16 in ${MEM_CHUNK}-s" \
        "runs until $MEM_MSGS echoes or ${MEM_BUDGET} s"
    start_server echotui_serve_mem "$ECHOTUI" serve --headless --quiet --listen 127.0.0.1:0
    MEM_PID=$SERVER_PID
    rss_before=$(rss_mib "$MEM_PID")
    printf '%6s %12s %10s %8s %8s\n' run echoes msgs/s "time s" "RSS MiB"
    printf '%6s %12s %10s %8s %8s\n' before 0 - 0 "$rss_before"
    total=0 run=0 rss_first= rss_after=$rss_before mem_start=$SECONDS
    while ((total < MEM_MSGS && SECONDS - mem_start + MEM_CHUNK <= MEM_BUDGET)); do
        run=$((run + 1))
        stats=$("$ECHOTUI" bench "$ADDR" -c 10 -p 16 -s 16 -d "${MEM_CHUNK}s" --json |
            python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["messages"], round(d["msgs_per_s"]))')
        read -r messages rate <<<"$stats"
        total=$((total + messages))
        rss_after=$(rss_mib "$MEM_PID")
        rss_first=${rss_first:-$rss_after}
        printf '%6s %12s %10s %8s %8s\n' "$run" "$total" "$rate" "$((SECONDS - mem_start))" "$rss_after"
    done
    rss_peak=$(rss_mib "$MEM_PID" VmHWM)
    stop_server
    python3 - "$total" "$MEM_MSGS" "$rss_before" "${rss_first:-$rss_before}" "$rss_after" "$rss_peak" \
        "$MEM_MAX_MIB" "$SUMMARY" <<'EOF'
import sys
total, wanted = int(sys.argv[1]), int(sys.argv[2])
before, first, after, peak, limit = (float(x) for x in sys.argv[3:8])
growth = after - first
flat = growth <= 1.0
print(f"RSS before {before:.1f} MiB, after the first run {first:.1f}, after {total:,} echoes "
      f"{after:.1f} ({growth:+.1f} since the first run: {'flat' if flat else 'NOT flat'}), "
      f"peak (VmHWM) {peak:.1f}")
if total < wanted:
    print(f"note: reached {total:,} of the {wanted:,} echoes wanted within the time budget")
with open(sys.argv[8], "a") as summary:
    print(f"(4) serve RSS MiB, before / after {total / 1e6:.1f}M echoes", f"{before:.1f}",
          f"{after:.1f}", f"{after / before:.2f}", f"flat, < {limit:g}",
          "yes" if flat and after < limit else "NO", sep="\t", file=summary)
    print("(4) serve peak RSS MiB (VmHWM)", "-", f"{peak:.1f}", "-", f"< {limit:g}",
          "yes" if peak < limit else "NO", sep="\t", file=summary)
EOF
fi

# ---------------------------------------------------------------------------------------------
# (5) Idle CPU of the full UI.

if want 5; then
    echo
    echo "(5) idle CPU: $ECHOTUI (full UI, 120x36) in a detached tmux, over ${IDLE_SECS} s from" \
        "2 s after launch"
    if command -v ss >/dev/null && [[ -n $(ss -Htln 'sport = :12345' 2>/dev/null) ]]; then
        echo "warning: something already listens on port 12345; the UI's embedded server may fail"
    fi
    tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -x 120 -y 36 -c "$WORK" "$PWD/$ECHOTUI"
    ui_pid=$(tmux -S "$TMUX_SOCK" list-panes -F '#{pane_pid}')
    if [[ $(cat "/proc/$ui_pid/comm" 2>/dev/null) != echotui ]]; then
        # tmux ran the command through a shell that did not exec it: take its echotui child.
        ui_pid=$(pgrep -P "$ui_pid" -x echotui | head -n 1)
    fi
    sleep 2
    kill -0 "$ui_pid" 2>/dev/null || { echo "error: the UI exited within 2 s" >&2; exit 1; }
    ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime + stime, incl. exited threads
    ns0=$(cpu_ns "$ui_pid") ticks0=$(ticks "$ui_pid") t0=$(date +%s%N)
    sleep "$IDLE_SECS"
    ns1=$(cpu_ns "$ui_pid") ticks1=$(ticks "$ui_pid") t1=$(date +%s%N)
    threads=$(find "/proc/$ui_pid/task" -mindepth 1 -maxdepth 1 | wc -l)
    status_line=$(tmux -S "$TMUX_SOCK" capture-pane -p | grep -v '^ *$' | tail -n 1 | sed 's/^ *//')
    tmux -S "$TMUX_SOCK" kill-server 2>/dev/null || true
    python3 - "$ns0" "$ns1" "$t0" "$t1" "$ticks0" "$ticks1" "$(getconf CLK_TCK)" "$threads" \
        "$IDLE_MAX_PCT" "$status_line" "$SUMMARY" <<'EOF'
import sys
ns0, ns1, t0, t1, k0, k1, hz, threads = (int(x) for x in sys.argv[1:9])
limit = float(sys.argv[9])
wall = (t1 - t0) / 1e9
pct = (ns1 - ns0) / 1e9 / wall * 100
pct_ticks = (k1 - k0) / hz / wall * 100
print(f"{(ns1 - ns0) / 1e6:.2f} ms on CPU in {wall:.1f} s over {threads} threads = {pct:.3f}% of "
      f"one core (cross-check, utime+stime: {k1 - k0} ticks of 1/{hz} s = {pct_ticks:.2f}%)")
print(f"UI status line: {sys.argv[10]}")
with open(sys.argv[11], "a") as summary:
    print("(5) UI idle CPU, % of one core", "-", f"{pct:.3f}", "-", f"< {limit:g}",
          "yes" if pct < limit else "NO", sep="\t", file=summary)
EOF
fi

# ---------------------------------------------------------------------------------------------
# (6) Impairment accuracy: what the proxy adds to a round trip beyond what was asked.

# impair_run PROBES PING_ARGS...: one pinned `echotui ping` run against ADDR; prints its p50 µs,
# then the process's CPU time per probe (µs) and its share of one core over the run (%).
impair_run() {
    local probes=$1
    shift
    python3 - "$probes" "${PIN[@]}" "$ECHOTUI" ping "$ADDR" -c "$probes" -s "$SIZE" --json "$@" <<'EOF'
import json, resource, subprocess, sys, time
probes, command = int(sys.argv[1]), sys.argv[2:]
start = time.monotonic()
report = subprocess.run(command, stdout=subprocess.PIPE, check=True, text=True).stdout
wall = time.monotonic() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the one child: taskset execs ping
cpu = usage.ru_utime + usage.ru_stime
print(json.loads(report)["rtt_us"]["p50"], f"{cpu / probes * 1e6:.1f}", f"{cpu / wall * 100:.1f}")
EOF
}

if want 6; then
    # LABEL|PROBES|PING ARGS, in the order of odd rounds (even rounds run them backwards).
    links=("clean|$COUNT|-i 0" "TCP loss 30% (ignored)|$COUNT|-i 0 --loss 30%")
    for delay in 1 10 50; do
        probes=$((IMPAIR_SECS * 1000 / (2 * delay)))
        probes=$((probes < 20 ? 20 : probes < COUNT ? probes : COUNT))
        links+=("delay ${delay}ms|$probes|-i 0 --delay ${delay}ms"
            "clean, -i $((2 * delay))ms|$probes|-i $((2 * delay))ms")
    done
    echo
    echo "(6) impairment accuracy: echotui ping through its proxy to echotui serve, all on" \
        "'$pinning', $ROUNDS rounds, ${IMPAIR_SECS} s per delayed run"
    start_server echotui_serve_impair "${PIN[@]}" "$ECHOTUI" serve --headless --quiet \
        --listen 127.0.0.1:0
    runs=$WORK/impair.tsv # label, round, p50 µs, CPU µs per probe, % of a core
    for round in $(seq "$ROUNDS"); do
        order=("${links[@]}")
        if ((round % 2 == 0)); then
            order=()
            for ((i = ${#links[@]} - 1; i >= 0; i--)); do order+=("${links[i]}"); done
        fi
        for link in "${order[@]}"; do
            IFS='|' read -r label probes args <<<"$link"
            read -r -a args <<<"$args"
            read -r p50 cpu pct <<<"$(impair_run "$probes" "${args[@]}")"
            printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$round" "$p50" "$cpu" "$pct" >>"$runs"
        done
    done
    stop_server
    python3 - "$runs" "$IMPAIR_MAX_US" "$SUMMARY" <<'EOF'
import re, statistics, sys
runs, limit = {}, float(sys.argv[2])
for line in open(sys.argv[1]):
    label, _, p50, cpu, pct = line.rstrip("\n").split("\t")
    runs.setdefault(label, []).append((float(p50), float(cpu), float(pct)))
median = {label: [statistics.median(run[i] for run in rows) for i in range(3)]
          for label, rows in runs.items()}
clean = median["clean"][0]

def paced_clean(label):
    """The clean p50 when the server idles as long between probes as behind this delay."""
    delay = re.fullmatch(r"delay (\d+)ms", label)
    paced = delay and median.get(f"clean, -i {2 * int(delay[1])}ms")
    return paced[0] if paced else None

def asked(label):
    """The RTT asked for: the clean one at the same pace, plus twice the delay."""
    delay = re.fullmatch(r"delay (\d+)ms", label)
    if delay:
        return paced_clean(label) + 2000 * int(delay[1])
    return clean if label.startswith("TCP") else None

print(f"{'link':<24} {'p50 µs per round':<44} {'median':>10} {'asked':>10} {'over':>7} "
      f"{'vs -i 0':>8} {'CPU µs/probe':>12} {'CPU %':>6}")
rows = []
for label, (p50, cpu, pct) in median.items():
    per_round = " ".join(f"{p:.1f}" for p, _, _ in runs[label])
    target = asked(label)
    over = "" if target is None else f"{p50 - target:+.1f}"
    shown = "" if target is None else f"{target:.1f}"
    delay = re.fullmatch(r"delay (\d+)ms", label)
    hot = f"{p50 - clean - 2000 * int(delay[1]):+.1f}" if delay else ""
    print(f"{label:<24} {per_round:<44} {p50:>10.1f} {shown:>10} {over:>7} {hot:>8} "
          f"{cpu:>12.1f} {pct:>6.1f}")
    if target is not None:
        met = "yes" if p50 - target < limit else "NO"
        rows.append((f"(6) ping p50 µs, {label}", f"{target:.1f}", f"{p50:.1f}",
                     f"{p50 / target:.3f}", f"< +{limit:g} µs", met))
print(f"asked = 2·D + the clean median p50 at the same pace (-i 2D), or the clean one for TCP "
      f"loss; over = median p50 - asked (target < +{limit:g} µs); vs -i 0 = median p50 - 2·D "
      "- the back-to-back clean p50")
with open(sys.argv[3], "a") as summary:
    for row in rows:
        print(*row, sep="\t", file=summary)
EOF
fi

# ---------------------------------------------------------------------------------------------
# (7) RTT at an interactive pace: a probe every 200 ms, both programs asleep in between.

if want 7; then
    echo
    echo "(7) echotui ping vs ref_ping at an interactive pace: $ROUNDS rounds x $PACED_COUNT probes" \
        "of $SIZE B, one every ${PACED_MS} ms, all on '$pinning'"
    PROBES=$PACED_COUNT INTERVAL_MS=$PACED_MS
    start_server ref_echo_server_paced "${PIN[@]}" "$REF_SERVER" 127.0.0.1:0
    compare "server: ref_echo_server (blocking std::net) on $ADDR, -i ${PACED_MS}ms" \
        "(7) ping p50 µs -i ${PACED_MS}ms, kernel clock|1.00|--clock kernel" \
        "(7) ping p50 µs -i ${PACED_MS}ms, user clock|-|--clock user"
    stop_server
fi

# ---------------------------------------------------------------------------------------------
echo
echo "summary (ratio = echotui / reference; QUICK=$QUICK ROUNDS=$ROUNDS; load average" \
    "$LOAD_AT_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at end)"
python3 - "$SUMMARY" <<'EOF'
import sys
header = ("measure", "reference", "echotui", "ratio", "target", "met?")
rows = [header] + [tuple(line.rstrip("\n").split("\t")) for line in open(sys.argv[1])]
widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
for n, row in enumerate(rows):
    cells = (c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
    print(" | ".join(cells))
    if n == 0:
        print("-+-".join("-" * w for w in widths))
EOF
