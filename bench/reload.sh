#!/usr/bin/env bash
# shellcheck disable=SC2034  # the result arrays are read through the nameref in get()
# Weir versus HAProxy, reloads under load, on this machine, in one run.
#
# Same set-up as bench/run.sh (one nginx backend on loopback, one configuration
# for both proxies, mode tcp, nbthread 1; proxy pinned to one CPU, load and
# nginx to another), but each proxy runs as a master with workers:
#   weir -W -f cfg -S sock            reload: weir cli sock reload (waits)
#   haproxy -W -db -f cfg -S sock     reload: "reload" on the master CLI, then
#                                     "show proc" until the master counts it
# For each proxy, two wrk runs of the same length: a baseline without reloads,
# then one with RELOADS reloads spread evenly over the run. During both, a
# second client opens a new connection for every request, as fast as it can,
# and counts the requests that fail (refused, reset, timed out, cut short).
# Reported: requests/s, p99, wrk's errors (socket errors and non-2xx), the
# new-connection failures, the reload times. Weir must show no error at all:
# the script says so loudly and exits 1 when it does not.
#
# Usage:  bench/reload.sh [--install]
#   --install   apt-get install haproxy nginx wrk curl python3 first
#
# Environment (defaults in brackets):
#   DURATION [20s]   each wrk run          WARMUP [2s]   wrk warm-up (0: none)
#   CONNECTIONS [50] wrk connections       THREADS [1]   wrk threads
#   RELOADS [20]     reloads in the second run
#   RELOAD_TIMEOUT [10]  seconds one reload may take before it counts as failed
#   NEWCONN [1]      0 leaves the new-connection client out
#   PROXY_CPU [0]    CPU of the proxy      LOAD_CPU [1]  CPU of wrk, nginx, clients
#   BASE_PORT [19090] nginx listens on it, the proxy on BASE_PORT+1
#   WEIR_BIN [.build/release/weir]  WEIR_SKIP=1 skips Weir
#   HAPROXY_BIN [haproxy]           HAPROXY_SKIP=1 skips HAProxy
#   RESULTS [bench/reload-latest.txt]
#
# All traffic goes to 127.0.0.1. Every loop is bounded in count and time.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-1}
RELOADS=${RELOADS:-20}
RELOAD_TIMEOUT=${RELOAD_TIMEOUT:-10}
NEWCONN=${NEWCONN:-1}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BASE_PORT=${BASE_PORT:-19090}
NGINX_PORT=$BASE_PORT
PROXY_PORT=$((BASE_PORT + 1))
WEIR_BIN=${WEIR_BIN:-$ROOT/.build/release/weir}
WEIR_SKIP=${WEIR_SKIP:-0}
HAPROXY_BIN=${HAPROXY_BIN:-haproxy}
HAPROXY_SKIP=${HAPROXY_SKIP:-0}
RESULTS=${RESULTS:-$ROOT/bench/reload-latest.txt}

if [[ ${1:-} == --install ]]; then
    log "installing haproxy nginx wrk curl python3"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends haproxy nginx wrk curl python3 >/dev/null
    shift
fi
[[ $# -eq 0 ]] || die "usage: bench/reload.sh [--install]"

for tool in nginx wrk taskset curl python3 timeout; do
    command -v "$tool" >/dev/null || die "$tool is missing (bench/reload.sh --install installs it)"
done
[[ $(nproc --all) -ge 2 ]] || die "needs at least 2 CPUs (proxy on one, load on the other)"
[[ $RELOADS =~ ^[0-9]+$ && $RELOADS -le 1000 ]] || die "RELOADS must be a number from 0 to 1000"
[[ $RELOAD_TIMEOUT =~ ^[0-9]+$ && $RELOAD_TIMEOUT -ge 1 ]] || die "RELOAD_TIMEOUT must be a number of seconds"

# wrk's duration (e.g. 20s, 20, 1m) in seconds.
DURATION_S=$(awk -v d="$DURATION" 'BEGIN {
    n = d + 0
    if (d ~ /m$/) n *= 60; else if (d ~ /h$/) n *= 3600
    print n
}')
awk -v n="$DURATION_S" 'BEGIN { exit !(n >= 1 && n <= 3600) }' || die "DURATION must be between 1s and 1h"

PROXIES=()
if [[ $WEIR_SKIP != 1 ]]; then
    if [[ ! -x $WEIR_BIN ]]; then
        export PATH="$PATH:/opt/swift/usr/bin"
        log "building Weir (swift build -c release --static-swift-stdlib)"
        swift build -c release --static-swift-stdlib >&2
    fi
    [[ -x $WEIR_BIN ]] || die "no Weir binary at $WEIR_BIN"
    PROXIES+=(weir)
fi
if [[ $HAPROXY_SKIP != 1 ]]; then
    command -v "$HAPROXY_BIN" >/dev/null || die "haproxy is missing (bench/reload.sh --install installs it)"
    PROXIES+=(haproxy)
fi
[[ ${#PROXIES[@]} -gt 0 ]] || die "both proxies skipped"

WORK=$(mktemp -d /tmp/weir-reload.XXXXXX)
PIDS=()
trap bench_cleanup EXIT

port_free "$NGINX_PORT" || die "port $NGINX_PORT is in use (set BASE_PORT)"
port_free "$PROXY_PORT" || die "port $PROXY_PORT is in use (set BASE_PORT)"

# --- clients ---------------------------------------------------------------

# newconn.py PORT SECONDS: one new connection per request, sequentially, until
# SECONDS have passed (and at most 5,000,000 attempts). Every response must be
# a complete "HTTP/1.1 200" with its body. Prints "attempts N failures F" and
# then one line per kind of failure, with the times (seconds from the start)
# of the first ones.
NEWCONN_PY=$WORK/newconn.py
cat >"$NEWCONN_PY" <<'EOF'
import socket, sys, time

port, seconds = int(sys.argv[1]), float(sys.argv[2])
req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

def one():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(req)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError("closed before the response headers")
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise ValueError("unexpected response %r" % head[:40])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError("closed in the body")
            body += chunk
    finally:
        s.close()

start = time.monotonic()
deadline = start + seconds
attempts = failures = 0
kinds = {}
while attempts < 5_000_000 and time.monotonic() < deadline:
    attempts += 1
    try:
        one()
    except Exception as e:
        failures += 1
        k = kinds.setdefault(type(e).__name__, [0, [], str(e)])
        k[0] += 1
        if len(k[1]) < 5:
            k[1].append("%.3f" % (time.monotonic() - start))
print("attempts %d failures %d" % (attempts, failures))
for name, (n, at, msg) in sorted(kinds.items()):
    print("  %s x%d at %ss (%s)" % (name, n, ",".join(at), msg))
EOF

# mcli.py SOCKET COMMAND...: one command on a master CLI (unix socket), prints
# the answer. mcli.py --haproxy-reload SOCKET N TIMEOUT: sends "reload", then
# polls "show proc" until the master's reload counter reaches N with no failed
# reload (exit 0), a failure shows (exit 1) or TIMEOUT seconds pass (exit 1).
MCLI_PY=$WORK/mcli.py
cat >"$MCLI_PY" <<'EOF'
import re, socket, sys, time

def command(path, text, timeout=5):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(text.encode() + b"\n")
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out.decode(errors="replace")
            out += chunk
    finally:
        s.close()

if sys.argv[1] != "--haproxy-reload":
    sys.stdout.write(command(sys.argv[1], " ".join(sys.argv[2:])))
    sys.exit(0)

path, want, limit = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
deadline = time.monotonic() + limit
command(path, "reload")
last = ""
while time.monotonic() < deadline:
    time.sleep(0.01)
    try:
        last = command(path, "show proc", timeout=1)
    except OSError:
        continue  # the master is re-executing: its CLI is not there yet
    m = re.search(r"^\d+\s+master\s+(\d+)\s+\[failed:\s*(\d+)\]", last, re.M)
    if not m:
        continue
    if int(m.group(2)) > 0:
        print("failed reload:\n" + last)
        sys.exit(1)
    if int(m.group(1)) >= want:
        sys.exit(0)
print("no completed reload after %gs; last show proc:\n%s" % (limit, last))
sys.exit(1)
EOF

# --- proxies ---------------------------------------------------------------

proxy_cmd() {
    case $1 in
        weir) echo "$WEIR_BIN -W -f $WORK/$1.cfg -S $WORK/$1.sock" ;;
        haproxy) echo "$HAPROXY_BIN -W -db -f $WORK/$1.cfg -S $WORK/$1.sock" ;;
    esac
}

proxy_version() {
    case $1 in
        weir) "$WEIR_BIN" -v 2>&1 | head -n 1 || true ;;
        haproxy) "$HAPROXY_BIN" -v 2>&1 | head -n 1 || true ;;
    esac
}

# reload_proxy PROXY N: the Nth reload of this proxy's master; waits for the
# outcome and succeeds only when the reload worked.
reload_proxy() {
    local p=$1 n=$2 out rc=0
    case $p in
        weir)
            out=$(timeout "$RELOAD_TIMEOUT" taskset -c "$LOAD_CPU" "$WEIR_BIN" cli "$WORK/$p.sock" reload 2>&1) || rc=$?
            [[ $rc -eq 0 && $out == Success=1* ]] || rc=1
            ;;
        haproxy)
            out=$(timeout $((RELOAD_TIMEOUT + 5)) taskset -c "$LOAD_CPU" python3 "$MCLI_PY" --haproxy-reload \
                "$WORK/$p.sock" "$n" "$RELOAD_TIMEOUT" 2>&1) || rc=$?
            ;;
    esac
    printf '%s\n' "--- reload $n (exit $rc)" "$out" >>"$WORK/$p.reloads"
    return "$rc"
}

# worker_count MASTER_PID: the master's child processes.
worker_count() {
    local pids
    pids=$(ps -o pid= --ppid "$1" 2>/dev/null || true)
    wc -w <<<"$pids"
}

# settle_workers MASTER_PID: waits (at most 10 s) until one worker is left,
# prints how many there are then.
settle_workers() {
    local master=$1 i n
    for ((i = 0; i < 200; i++)); do
        n=$(worker_count "$master")
        [[ $n -le 1 ]] && break
        sleep 0.05
    done
    worker_count "$master"
}

# newest_worker_cmdline MASTER_PID: the command line of the youngest worker
# (HAProxy's shows how it took the listeners over: -x sockpair@N).
newest_worker_cmdline() {
    local pid
    pid=$(ps -o pid= --ppid "$1" --sort=start_time 2>/dev/null | tail -n 1 | tr -d ' ')
    if [[ -n $pid ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true
    fi
}

# crashed_workers PROXY LOG: the lines of the proxy's log that report a worker
# ending other than normally (a non-zero exit status or a signal).
crashed_workers() {
    case $1 in
        weir) grep -E 'exited \((exit status [1-9]|killed by signal)|ALERT.*exited:' "$2" || true ;;
        haproxy) grep -E 'worker \([0-9]+\) exited with code [1-9]' "$2" || true ;;
    esac
}

# --- measurement -----------------------------------------------------------

# Per proxy and phase (KEY is "proxy.base" or "proxy.reload").
declare -A RPS P99 WRK_ERRS WRK_ERR_TEXT NC_ATTEMPTS NC_FAILS NC_TEXT
# Per proxy.
declare -A RELOAD_OK RELOAD_MEAN RELOAD_MAX WORKERS_LEFT WORKER_CMD CRASHES CRASH_TEXT

# measure PROXY PHASE MASTER_PID: one wrk run with the new-connection client
# beside it; in phase "reload", RELOADS reloads spread evenly over the run.
measure() {
    local p=$1 phase=$2 master=$3 key=$1.$2 wrk_pid nc_pid t0 i target wait_s r0 ms ok=0 sum=0 max=0 out
    log "$p, $phase: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency$([[ $phase == reload ]] && echo ", $RELOADS reloads")"
    if [[ $NEWCONN == 1 ]]; then
        timeout $((${DURATION_S%.*} + 30)) taskset -c "$LOAD_CPU" python3 "$NEWCONN_PY" "$PROXY_PORT" "$DURATION_S" \
            >"$WORK/$key.newconn" 2>&1 &
        nc_pid=$!
        PIDS+=("$nc_pid")
    fi
    timeout $((${DURATION_S%.*} + 60)) taskset -c "$LOAD_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
        "http://127.0.0.1:$PROXY_PORT/" >"$WORK/$key.wrk" 2>&1 &
    wrk_pid=$!
    PIDS+=("$wrk_pid")
    t0=$EPOCHREALTIME

    if [[ $phase == reload ]]; then
        for ((i = 1; i <= RELOADS; i++)); do
            # Reload i at i/(RELOADS+1) of the run.
            target=$(awk -v t0="$t0" -v d="$DURATION_S" -v i="$i" -v n="$RELOADS" 'BEGIN { printf "%.6f", t0 + d * i / (n + 1) }')
            wait_s=$(awk -v t="$target" -v now="$EPOCHREALTIME" 'BEGIN { w = t - now; printf "%.3f", (w > 0 ? w : 0) }')
            sleep "$wait_s"
            r0=$EPOCHREALTIME
            if reload_proxy "$p" "$i"; then
                ok=$((ok + 1))
            else
                log "$p: reload $i FAILED: $(tail -n 5 "$WORK/$p.reloads" | tr '\n' ' ')"
            fi
            ms=$(awk -v a="$r0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
            sum=$(awk -v s="$sum" -v m="$ms" 'BEGIN { print s + m }')
            max=$(awk -v x="$max" -v m="$ms" 'BEGIN { print (m > x ? m : x) }')
            kill -0 "$master" 2>/dev/null || die "$p: the master exited during reload $i"
        done
        RELOAD_OK[$p]="$ok/$RELOADS"
        if [[ $RELOADS -gt 0 ]]; then
            RELOAD_MEAN[$p]=$(awk -v s="$sum" -v n="$RELOADS" 'BEGIN { printf "%.1f", s / n }')
            RELOAD_MAX[$p]=$max
        fi
        WORKER_CMD[$p]=$(newest_worker_cmdline "$master")
    fi

    wait "$wrk_pid" || die "$p: wrk failed: $(cat "$WORK/$key.wrk")"
    if [[ $NEWCONN == 1 ]]; then
        wait "$nc_pid" || die "$p: the new-connection client failed: $(cat "$WORK/$key.newconn")"
    fi
    out=$(cat "$WORK/$key.wrk")
    sed 's/^/    /' "$WORK/$key.wrk" >&2
    awk '/requests in/ { n = $1 } END { exit !(n > 0) }' <<<"$out" || die "$p: wrk completed no request"
    RPS[$key]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
    P99[$key]=$(to_ms "$(awk '$1 == "99%" { print $2; exit }' <<<"$out")")
    # "Socket errors: connect 0, read 0, write 0, timeout 0" and
    # "Non-2xx or 3xx responses: N" appear only when not zero.
    WRK_ERRS[$key]=$(awk '
        /Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 }
        /Non-2xx or 3xx responses:/ { n += $NF }
        END { print n + 0 }' <<<"$out")
    WRK_ERR_TEXT[$key]=$(awk '/Socket errors|Non-2xx/ { sub(/^ +/, ""); printf "%s; ", $0 }' <<<"$out")
    if [[ $NEWCONN == 1 ]]; then
        NC_ATTEMPTS[$key]=$(awk 'NR == 1 { print $2 }' "$WORK/$key.newconn")
        NC_FAILS[$key]=$(awk 'NR == 1 { print $4 }' "$WORK/$key.newconn")
        NC_TEXT[$key]=$(tail -n +2 "$WORK/$key.newconn")
        log "$p, $phase: new connections: $(head -n 1 "$WORK/$key.newconn")"
    fi
}

run_proxy() {
    local p=$1 master
    log "$p: $(proxy_version "$p")"
    write_proxy_cfg "$WORK/$p.cfg" bench/reload.sh "$PROXY_PORT"
    : >"$WORK/$p.reloads"
    # Workers inherit the master's affinity: the whole proxy runs on PROXY_CPU.
    # shellcheck disable=SC2046
    taskset -c "$PROXY_CPU" $(proxy_cmd "$p") >"$WORK/$p.out" 2>&1 &
    master=$!
    PIDS+=("$master")
    wait_ready "$PROXY_PORT" "$master" 20 || { cat "$WORK/$p.out" >&2; die "$p did not start"; }
    curl -sf --max-time 5 "http://127.0.0.1:$PROXY_PORT/" >/dev/null || die "$p does not forward to nginx"

    if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
        log "$p: warm-up $WARMUP"
        timeout 120 taskset -c "$LOAD_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" \
            "http://127.0.0.1:$PROXY_PORT/" >/dev/null
    fi
    measure "$p" base "$master"
    measure "$p" reload "$master"
    WORKERS_LEFT[$p]=$(settle_workers "$master")
    log "$p: $(worker_count "$master") worker(s) once the load stopped"
    # Worker exits logged before the final stop (which ends the last worker).
    CRASH_TEXT[$p]=$(crashed_workers "$p" "$WORK/$p.out")
    CRASHES[$p]=$(grep -c . <<<"${CRASH_TEXT[$p]}" || true)
    stop "$master"
}

start_nginx
for p in "${PROXIES[@]}"; do
    run_proxy "$p"
done

# --- report ----------------------------------------------------------------

row() {
    printf '%-34s %14s %14s %14s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"
}

report() {
    local cpu p ph
    cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    echo "Weir vs HAProxy, reloads under load, mode tcp, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: ${cpu:-unknown CPU}, $(nproc --all) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "proxy (master + 1 worker, nbthread 1) on CPU $PROXY_CPU; wrk, nginx and the clients on CPU $LOAD_CPU; backend: $(nginx -v 2>&1 | sed 's/^nginx version: //'), 64-byte body"
    echo "load: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (warm-up $WARMUP), keep-alive; baseline run, then a run with $RELOADS reloads spread evenly"
    if [[ $NEWCONN == 1 ]]; then
        echo "beside wrk: one client opening a new connection per request, sequentially, for the whole run"
    fi
    for p in "${PROXIES[@]}"; do
        echo "$p: $(proxy_version "$p")"
    done
    echo
    printf '%-34s %14s %14s %14s\n' metric weir haproxy weir/haproxy
    row "requests/s, no reload" "$(get RPS weir.base)" "$(get RPS haproxy.base)"
    row "requests/s, reloads" "$(get RPS weir.reload)" "$(get RPS haproxy.reload)"
    row "p99 (ms), no reload" "$(get P99 weir.base)" "$(get P99 haproxy.base)"
    row "p99 (ms), reloads" "$(get P99 weir.reload)" "$(get P99 haproxy.reload)"
    row "wrk errors, no reload" "$(get WRK_ERRS weir.base)" "$(get WRK_ERRS haproxy.base)"
    row "wrk errors, reloads" "$(get WRK_ERRS weir.reload)" "$(get WRK_ERRS haproxy.reload)"
    if [[ $NEWCONN == 1 ]]; then
        row "new connections, no reload" "$(get NC_ATTEMPTS weir.base)" "$(get NC_ATTEMPTS haproxy.base)"
        row "new connections, reloads" "$(get NC_ATTEMPTS weir.reload)" "$(get NC_ATTEMPTS haproxy.reload)"
        row "failed new conns, no reload" "$(get NC_FAILS weir.base)" "$(get NC_FAILS haproxy.base)"
        row "failed new conns, reloads" "$(get NC_FAILS weir.reload)" "$(get NC_FAILS haproxy.reload)"
    fi
    printf '%-34s %14s %14s %14s\n' "reloads that worked" "$(get RELOAD_OK weir)" "$(get RELOAD_OK haproxy)" ""
    row "reload time, mean (ms)" "$(get RELOAD_MEAN weir)" "$(get RELOAD_MEAN haproxy)"
    row "reload time, max (ms)" "$(get RELOAD_MAX weir)" "$(get RELOAD_MAX haproxy)"
    printf '%-34s %14s %14s %14s\n' "workers left after the load" "$(get WORKERS_LEFT weir)" "$(get WORKERS_LEFT haproxy)" ""
    printf '%-34s %14s %14s %14s\n' "workers that crashed" "$(get CRASHES weir)" "$(get CRASHES haproxy)" ""
    for p in "${PROXIES[@]}"; do
        for ph in base reload; do
            if [[ -n ${WRK_ERR_TEXT[$p.$ph]:-} ]]; then
                echo "$p, $ph: wrk: ${WRK_ERR_TEXT[$p.$ph]}"
            fi
            if [[ -n ${NC_TEXT[$p.$ph]:-} ]]; then
                echo "$p, $ph: failed new connections:"
                echo "${NC_TEXT[$p.$ph]}"
            fi
        done
        if [[ -n ${CRASH_TEXT[$p]:-} ]]; then
            echo "$p: workers that crashed:"
            echo "${CRASH_TEXT[$p]}"
        fi
        if [[ -n ${WORKER_CMD[$p]:-} ]]; then
            echo "$p: newest worker after the reloads: ${WORKER_CMD[$p]}"
        fi
    done
}

# Weir must not fail a single request, connection or reload.
weir_errors() {
    local n=0 ph
    for ph in base reload; do
        n=$((n + ${WRK_ERRS[weir.$ph]:-0} + ${NC_FAILS[weir.$ph]:-0}))
    done
    n=$((n + ${CRASHES[weir]:-0}))
    if [[ -n ${RELOAD_OK[weir]:-} ]]; then
        n=$((n + RELOADS - ${RELOAD_OK[weir]%%/*}))
    fi
    echo "$n"
}

echo
{
    report
    if [[ $WEIR_SKIP != 1 ]]; then
        n=$(weir_errors)
        if [[ $n -eq 0 ]]; then
            echo "weir: no error (wrk, new connections, reloads, workers)"
        else
            echo "WEIR ERRORS: $n failed requests, connections, reloads or workers (must be 0; see above)"
        fi
    fi
} | tee "$RESULTS"
log "written to ${RESULTS#"$ROOT"/}"
if [[ $WEIR_SKIP != 1 && $(weir_errors) -ne 0 ]]; then
    if [[ -s $WORK/weir.reloads ]]; then
        log "weir reload answers:"
        sed 's/^/    /' "$WORK/weir.reloads" >&2
    fi
    log "weir's log:"
    tail -n 40 "$WORK/weir.out" | sed 's/^/    /' >&2
    exit 1
fi
