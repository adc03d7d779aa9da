#!/usr/bin/env bash
# shellcheck disable=SC2034  # the result arrays are read through the nameref in get()
# Weir versus HAProxy in mode tcp, on this machine, in one run.
#
# Both proxies get the same configuration (generated from one template: Weir
# reads HAProxy's language) in front of one nginx backend serving a small
# static body on loopback. The proxy runs pinned to one CPU, wrk and nginx to
# another. For each proxy the script measures, with wrk (keep-alive):
# requests/s, p50/p99 latency, the proxy's CPU time per request and its peak
# RSS; then, under valgrind --tool=callgrind, the user-space instructions per
# request, for requests on one keep-alive connection and for one request per
# new connection, with a run of zero requests subtracted to remove startup.
#
# Usage:  bench/run.sh [--install]
#   --install   apt-get install haproxy nginx wrk valgrind first
#
# Environment (defaults in brackets):
#   DURATION [10s]   wrk run length          WARMUP [2s]   wrk warm-up (0: none)
#   CONNECTIONS [50] wrk connections         THREADS [1]   wrk threads
#   CG_REQUESTS [2000]  requests per callgrind run       CALLGRIND [1] 0 skips it
#   PROXY_CPU [0]    CPU of the proxy        LOAD_CPU [1]  CPU of wrk and nginx
#   BASE_PORT [19080] nginx listens on it, the proxy on BASE_PORT+1
#   WEIR_BIN [.build/release/weir]  WEIR_FLAGS [-db]  WEIR_SKIP=1 skips Weir
#   HAPROXY_BIN [haproxy]           HAPROXY_SKIP=1 skips HAProxy
#   RESULTS [bench/results-latest.txt]
#
# All traffic goes to 127.0.0.1. Every loop is bounded in count and time.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-1}
CG_REQUESTS=${CG_REQUESTS:-2000}
CALLGRIND=${CALLGRIND:-1}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BASE_PORT=${BASE_PORT:-19080}
NGINX_PORT=$BASE_PORT
PROXY_PORT=$((BASE_PORT + 1))
WEIR_BIN=${WEIR_BIN:-$ROOT/.build/release/weir}
# -db: one foreground process, like -d (which this release also is without
# any flag) but without -d's debug line per accept and close on stderr, which
# HAProxy, started with -db as well, does not pay either.
WEIR_FLAGS=${WEIR_FLAGS:--db}
WEIR_SKIP=${WEIR_SKIP:-0}
HAPROXY_BIN=${HAPROXY_BIN:-haproxy}
HAPROXY_SKIP=${HAPROXY_SKIP:-0}
RESULTS=${RESULTS:-$ROOT/bench/results-latest.txt}
CLK_TCK=$(getconf CLK_TCK)

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

if [[ ${1:-} == --install ]]; then
    log "installing haproxy nginx wrk valgrind"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends haproxy nginx wrk valgrind curl python3 >/dev/null
    shift
fi
[[ $# -eq 0 ]] || die "usage: bench/run.sh [--install]"

for tool in nginx wrk taskset curl python3; do
    command -v "$tool" >/dev/null || die "$tool is missing (bench/run.sh --install installs it)"
done
if [[ $CALLGRIND == 1 ]]; then
    command -v valgrind >/dev/null || die "valgrind is missing (bench/run.sh --install installs it)"
    command -v callgrind_annotate >/dev/null || die "callgrind_annotate is missing"
fi
[[ $(nproc --all) -ge 2 ]] || die "needs at least 2 CPUs (proxy on one, load on the other)"

PROXIES=()
if [[ $WEIR_SKIP != 1 ]]; then
    if [[ ! -x $WEIR_BIN ]]; then
        export PATH="$PATH:/opt/swift/usr/bin"
        log "building Weir (swift build -c release)"
        swift build -c release >&2
    fi
    [[ -x $WEIR_BIN ]] || die "no Weir binary at $WEIR_BIN"
    PROXIES+=(weir)
fi
if [[ $HAPROXY_SKIP != 1 ]]; then
    command -v "$HAPROXY_BIN" >/dev/null || die "haproxy is missing (bench/run.sh --install installs it)"
    PROXIES+=(haproxy)
fi
[[ ${#PROXIES[@]} -gt 0 ]] || die "both proxies skipped"

WORK=$(mktemp -d /tmp/weir-bench.XXXXXX)
PIDS=()
trap bench_cleanup EXIT

# --- helpers ---------------------------------------------------------------

proxy_cmd() {
    case $1 in
        weir) echo "${2:-$WEIR_BIN} $WEIR_FLAGS -f $WORK/$1.cfg" ;;
        haproxy) echo "$HAPROXY_BIN -db -f $WORK/$1.cfg" ;;
    esac
}

proxy_version() {
    case $1 in
        weir) "$WEIR_BIN" -v 2>&1 | head -n 1 || true ;;
        haproxy) "$HAPROXY_BIN" -v 2>&1 | head -n 1 || true ;;
    esac
}

# --- backend ---------------------------------------------------------------

port_free "$NGINX_PORT" || die "port $NGINX_PORT is in use (set BASE_PORT)"
port_free "$PROXY_PORT" || die "port $PROXY_PORT is in use (set BASE_PORT)"

start_nginx

# --- proxy configuration: one template for both ----------------------------

for p in "${PROXIES[@]}"; do
    write_proxy_cfg "$WORK/$p.cfg" bench/run.sh "$PROXY_PORT"
done

# --- throughput, latency, CPU, RSS -----------------------------------------

declare -A RPS P50 P99 CPU_US RSS_MIB ERRS IR_KA IR_NEW

run_wrk() {
    local p=$1 pid out t0 t1 requests
    log "$p: $(proxy_version "$p")"
    # shellcheck disable=SC2046
    taskset -c "$PROXY_CPU" $(proxy_cmd "$p") >"$WORK/$p.out" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_ready "$PROXY_PORT" "$pid" 20 || { cat "$WORK/$p.out" >&2; die "$p did not start"; }
    curl -sf --max-time 5 "http://127.0.0.1:$PROXY_PORT/" >/dev/null || die "$p does not forward to nginx"

    if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
        log "$p: warm-up $WARMUP"
        timeout 120 taskset -c "$LOAD_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" \
            "http://127.0.0.1:$PROXY_PORT/" >/dev/null
    fi

    log "$p: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency"
    t0=$(cpu_ticks "$pid")
    out=$(timeout 600 taskset -c "$LOAD_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
        "http://127.0.0.1:$PROXY_PORT/")
    t1=$(cpu_ticks "$pid")
    printf '%s\n' "$out" >"$WORK/$p.wrk"
    printf '%s\n' "$out" | sed 's/^/    /' >&2

    requests=$(awk '/requests in/ { print $1; exit }' <<<"$out")
    [[ -n $requests && $requests -gt 0 ]] || die "$p: wrk completed no request"
    RPS[$p]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
    P50[$p]=$(to_ms "$(awk '$1 == "50%" { print $2; exit }' <<<"$out")")
    P99[$p]=$(to_ms "$(awk '$1 == "99%" { print $2; exit }' <<<"$out")")
    CPU_US[$p]=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN { printf "%.2f", d / hz / n * 1e6 }')
    RSS_MIB[$p]=$(awk -v k="$(peak_rss_kib "$pid")" 'BEGIN { printf "%.1f", k / 1024 }')
    ERRS[$p]=$(awk '/Socket errors|Non-2xx/ { sub(/^ +/, ""); printf "%s; ", $0 }' <<<"$out")
    stop "$pid"
}

# --- callgrind: user-space instructions per request ------------------------

# Sends N sequential HTTP requests to the proxy and checks every response.
# Mode "ka": all on one keep-alive connection; mode "new": one connection each.
CLIENT=$WORK/client.py
cat >"$CLIENT" <<'EOF'
import socket, sys

port, n, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def exchange(s, buf):
    s.sendall(req)
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("connection closed before the response headers")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit("unexpected response: %r" % head[:80])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("connection closed in the body")
        rest += chunk
    return rest[length:]

if n > 0 and mode == "ka":
    s, buf = connect(), b""
    for _ in range(n):
        buf = exchange(s, buf)
    s.close()
elif mode == "new":
    for _ in range(n):
        s = connect()
        exchange(s, b"")
        s.close()
EOF

# callgrind_run PROXY MODE N: prints the total Ir of one run of the proxy
# under callgrind that served N requests.
callgrind_run() {
    local p=$1 mode=$2 n=$3 pid file total
    file=$WORK/callgrind.$p.$mode.$n.out
    # shellcheck disable=SC2046
    taskset -c "$PROXY_CPU" valgrind --tool=callgrind --callgrind-out-file="$file" \
        $(proxy_cmd "$p" "$(callgrind_binary "$p")") >"$WORK/$p.cg.$mode.$n.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_ready "$PROXY_PORT" "$pid" 120 || { tail -n 20 "$WORK/$p.cg.$mode.$n.log" >&2; die "$p did not start under valgrind"; }
    if [[ $n -gt 0 ]]; then
        timeout 600 taskset -c "$LOAD_CPU" python3 "$CLIENT" "$PROXY_PORT" "$n" "$mode" \
            || die "$p: the callgrind client failed"
    fi
    stop "$pid"
    [[ -s $file ]] || die "$p: callgrind wrote no profile ($file)"
    total=$(callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
    if [[ -z $total ]]; then
        total=$(awk '/^totals:/ { print $2; exit } /^summary:/ { s = $2 } END { if (s) print s }' "$file")
    fi
    [[ -n $total ]] || die "$p: no instruction total in $file"
    echo "$total"
}

run_callgrind() {
    local p=$1 base ka new
    log "$p: callgrind, 0 requests (startup baseline)"
    base=$(callgrind_run "$p" ka 0)
    log "$p: callgrind, $CG_REQUESTS requests on one keep-alive connection"
    ka=$(callgrind_run "$p" ka "$CG_REQUESTS")
    log "$p: callgrind, $CG_REQUESTS requests on new connections"
    new=$(callgrind_run "$p" new "$CG_REQUESTS")
    IR_KA[$p]=$(( (ka - base) / CG_REQUESTS ))
    IR_NEW[$p]=$(( (new - base) / CG_REQUESTS ))
    log "$p: Ir baseline $base, keep-alive $ka, new connections $new"
}

for p in "${PROXIES[@]}"; do
    run_wrk "$p"
done
if [[ $CALLGRIND == 1 ]]; then
    for p in "${PROXIES[@]}"; do
        run_callgrind "$p"
    done
fi

# --- report ----------------------------------------------------------------

report() {
    local cpu
    cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    echo "Weir vs HAProxy, mode tcp, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: ${cpu:-unknown CPU}, $(nproc --all) CPUs, $(uname -r)"
    echo "proxy on CPU $PROXY_CPU; wrk and nginx on CPU $LOAD_CPU; backend: $(nginx -v 2>&1 | sed 's/^nginx version: //'), 64-byte body"
    echo "load: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (warm-up $WARMUP), keep-alive"
    if [[ $CALLGRIND == 1 ]]; then
        echo "callgrind: $CG_REQUESTS requests per run, startup run of 0 requests subtracted"
    fi
    for p in "${PROXIES[@]}"; do
        echo "$p: $(proxy_version "$p")"
    done
    echo
    printf '%-30s %14s %14s %14s\n' metric weir haproxy weir/haproxy
    printf '%-30s %14s %14s %14s\n' "requests/s" "$(get RPS weir)" "$(get RPS haproxy)" \
        "$(ratio "$(get RPS weir)" "$(get RPS haproxy)")"
    printf '%-30s %14s %14s %14s\n' "latency p50 (ms)" "$(get P50 weir)" "$(get P50 haproxy)" \
        "$(ratio "$(get P50 weir)" "$(get P50 haproxy)")"
    printf '%-30s %14s %14s %14s\n' "latency p99 (ms)" "$(get P99 weir)" "$(get P99 haproxy)" \
        "$(ratio "$(get P99 weir)" "$(get P99 haproxy)")"
    printf '%-30s %14s %14s %14s\n' "proxy CPU per request (us)" "$(get CPU_US weir)" "$(get CPU_US haproxy)" \
        "$(ratio "$(get CPU_US weir)" "$(get CPU_US haproxy)")"
    printf '%-30s %14s %14s %14s\n' "peak RSS (MiB)" "$(get RSS_MIB weir)" "$(get RSS_MIB haproxy)" \
        "$(ratio "$(get RSS_MIB weir)" "$(get RSS_MIB haproxy)")"
    printf '%-30s %14s %14s %14s\n' "instr/req, keep-alive" "$(get IR_KA weir)" "$(get IR_KA haproxy)" \
        "$(ratio "$(get IR_KA weir)" "$(get IR_KA haproxy)")"
    printf '%-30s %14s %14s %14s\n' "instr/req, new connection" "$(get IR_NEW weir)" "$(get IR_NEW haproxy)" \
        "$(ratio "$(get IR_NEW weir)" "$(get IR_NEW haproxy)")"
    for p in "${PROXIES[@]}"; do
        if [[ -n ${ERRS[$p]:-} ]]; then
            echo "$p: wrk reported errors: ${ERRS[$p]}"
        fi
    done
}

echo
report | tee "$RESULTS"
log "written to ${RESULTS#"$ROOT"/}"
