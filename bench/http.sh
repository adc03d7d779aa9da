#!/usr/bin/env bash
# shellcheck disable=SC2034  # the result arrays are read through the nameref in get()
# Weir versus HAProxy versus nginx as HTTP reverse proxies, on this machine,
# in one run.
#
# Weir and HAProxy get the same configuration file (generated from one
# template: Weir reads HAProxy's language): mode http, two ACLs (path_beg and
# hdr(host)), one use_backend rule, option forwardfor, one http-request
# set-header, keep-alive to the backend (http-reuse safe). nginx, acting as
# the proxy, gets the equivalent configuration in its own language. The
# backends are another nginx serving static files on loopback.
#
# Scenarios, each with a freshly started proxy pinned to PROXY_CPU, wrk and
# the backend pinned to LOAD_CPU:
#   idle   IDLE_CONNS keep-alive client connections, each after one request,
#          held idle: the proxy's RSS before and with them
#   ka     wrk -t1 -c50 --latency, keep-alive, 64-byte responses
#   close  the same with 'Connection: close' (a new connection per request)
#   16k    the same as ka with 16 KiB responses
# measuring requests/s, p50/p99, the proxy's CPU time (and user time) per
# request, its sleeps per request (voluntary context switches: wake-ups),
# server connections per request (from the backends' stub_status)
# and peak RSS. Then system calls per request (strace -c, sequential
# requests, keep-alive and new connections). Then, under valgrind
# --tool=callgrind, user-space instructions per request for Weir, HAProxy
# and nginx: CG_REQUESTS requests on one keep-alive connection (64 B and
# 16 KiB) and on new connections, with a run of zero requests subtracted;
# and for each a per-request profile (top functions, calls to malloc/free
# and the Swift runtime, allocation call chains) written to PROFILE.
#
# Usage:  bench/http.sh [--install]
#   --install   apt-get install haproxy nginx wrk valgrind strace first
#
# Environment (defaults in brackets):
#   DURATION [10s]    wrk run length         WARMUP [2s]   wrk warm-up (0: none)
#   CONNECTIONS [50]  wrk connections        THREADS [1]   wrk threads
#   IDLE_CONNS [10000] idle connections for the RSS scenario (0: skip it)
#   MAXCONN [IDLE_CONNS+100]  ULIMIT_N [hard limit - 64, at most 65472]  in the configs
#                     (IDLE_CONNS is lowered when ULIMIT_N < 2 x MAXCONN + 100)
#   SCENARIOS ["ka close 16k"]  the wrk scenarios to run
#   ROUNDS [1]        rounds of all wrk scenarios; the table gives medians
#   CG_REQUESTS [2000] requests per callgrind run         CALLGRIND [1] 0 skips it
#   CG_PROXIES ["weir haproxy nginx"]  the proxies run under callgrind
#   STRACE [1]        syscalls per request (strace -c), SC_REQUESTS [2000] requests
#   PROXY_CPU [0]     CPU of the proxy       LOAD_CPU [1]  CPU of wrk, clients, backends
#   BASE_PORT [19100] nginx backends on BASE_PORT..+2 and +4 (stub_status), the proxy on +3
#   WEIR_BIN [.build/release/weir]  WEIR_FLAGS [-db]  WEIR_SKIP=1 skips Weir
#   HAPROXY_BIN [haproxy]  HAPROXY_SKIP=1     NGINX_SKIP=1 skips nginx as a proxy
#   RESULTS [bench/http-latest.txt]  PROFILE [bench/http-profile-latest.txt]
#   KEEP_WORK [0]     1 keeps the temporary directory
#   HOST_STALLS [5]   seconds of bench/hoststalls.py on PROXY_CPU and LOAD_CPU
#                     before and after the wrk runs (0: skip): the pauses the
#                     host takes from each CPU, which weigh on every p99 alike
#
# All traffic goes to 127.0.0.1. Every loop is bounded in count and time.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-1}
IDLE_CONNS=${IDLE_CONNS:-10000}
SCENARIOS=${SCENARIOS-ka close 16k}
ROUNDS=${ROUNDS:-1}
CG_REQUESTS=${CG_REQUESTS:-2000}
CALLGRIND=${CALLGRIND:-1}
CG_PROXIES=${CG_PROXIES:-weir haproxy nginx}
STRACE=${STRACE:-1}
HOST_STALLS=${HOST_STALLS:-5}
SC_REQUESTS=${SC_REQUESTS:-2000}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BASE_PORT=${BASE_PORT:-19100}
NGINX_PORT=$BASE_PORT          # lib.sh's nginx server (readiness only)
API_PORT=$((BASE_PORT + 1))    # backend "api": static files
APP_PORT=$((BASE_PORT + 2))    # backend "app": 404 to everything
PROXY_PORT=$((BASE_PORT + 3))
STATUS_PORT=$((BASE_PORT + 4)) # the backends' stub_status: connections accepted
WEIR_BIN=${WEIR_BIN:-$ROOT/.build/release/weir}
WEIR_FLAGS=${WEIR_FLAGS:--db}
WEIR_SKIP=${WEIR_SKIP:-0}
HAPROXY_BIN=${HAPROXY_BIN:-haproxy}
HAPROXY_SKIP=${HAPROXY_SKIP:-0}
NGINX_SKIP=${NGINX_SKIP:-0}
RESULTS=${RESULTS:-$ROOT/bench/http-latest.txt}
PROFILE=${PROFILE:-$ROOT/bench/http-profile-latest.txt}
CLK_TCK=$(getconf CLK_TCK)
HOST=bench.example
SMALL=/api/small
BIG=/api/16k

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

if [[ ${1:-} == --install ]]; then
    log "installing haproxy nginx wrk valgrind strace"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends haproxy nginx wrk valgrind strace curl python3 >/dev/null
    shift
fi
[[ $# -eq 0 ]] || die "usage: bench/http.sh [--install]"

for tool in nginx wrk taskset curl python3; do
    command -v "$tool" >/dev/null || die "$tool is missing (bench/http.sh --install installs it)"
done
if [[ $CALLGRIND == 1 ]]; then
    command -v valgrind >/dev/null || die "valgrind is missing (bench/http.sh --install installs it)"
fi
[[ $(nproc --all) -ge 2 ]] || die "needs at least 2 CPUs (proxy on one, load on the other)"

# 10,000 idle connections need as many descriptors in the client and in the
# proxy. The proxies get `ulimit-n` (nginx: worker_rlimit_nofile) the hard
# limit less valgrind's reserve, and maxconn IDLE_CONNS + 100. HAProxy refuses
# to start when ulimit-n is below 2 x maxconn (+ listeners), so where the hard
# limit is low (a container capped at 20000, say) IDLE_CONNS is lowered to
# what fits, and the report says so.
hard=$(ulimit -Hn)
[[ $hard == unlimited || $hard -gt 65536 ]] && hard=65536
ulimit -n "$hard" || die "cannot set ulimit -n $hard"
# valgrind keeps a few descriptors below the hard limit for itself.
ULIMIT_N=${ULIMIT_N:-$((hard - 64))}
IDLE_ASKED=$IDLE_CONNS
if [[ -z ${MAXCONN:-} ]]; then
    MAXCONN=$(( (IDLE_CONNS > 4000 ? IDLE_CONNS : 4000) + 100 ))
    cap=$(( (ULIMIT_N - 100) / 2 ))
    if [[ $MAXCONN -gt $cap ]]; then
        MAXCONN=$cap
        IDLE_CONNS=$(( (MAXCONN - 100) / 100 * 100 ))
        log "the descriptor hard limit is $hard: maxconn $MAXCONN, $IDLE_CONNS idle connections instead of $IDLE_ASKED"
    fi
fi
[[ $IDLE_CONNS -eq 0 || $IDLE_CONNS -le $((MAXCONN - 50)) ]] \
    || die "maxconn $MAXCONN is too low for $IDLE_CONNS idle connections"

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
    command -v "$HAPROXY_BIN" >/dev/null || die "haproxy is missing (bench/http.sh --install installs it)"
    PROXIES+=(haproxy)
fi
[[ $NGINX_SKIP == 1 ]] || PROXIES+=(nginx)
[[ ${#PROXIES[@]} -gt 0 ]] || die "every proxy skipped"

WORK=$(mktemp -d /tmp/weir-bench-http.XXXXXX)
PIDS=()
trap bench_cleanup EXIT
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- backends: one nginx, three servers ------------------------------------

for port in "$NGINX_PORT" "$API_PORT" "$APP_PORT" "$PROXY_PORT" "$STATUS_PORT"; do
    port_free "$port" || die "port $port is in use (set BASE_PORT)"
done

# "api" serves the static files; /api/check echoes what the proxy added, for
# the check below. "app" answers 404, so a request the rules misroute fails.
NGINX_EXTRA="
    server {
        listen 127.0.0.1:$API_PORT;
        root $WORK/nginx/html;
        location / { }
        location = /api/check {
            add_header X-Seen \"proxy=\$http_x_proxy xff=\$http_x_forwarded_for host=\$http_host\" always;
            return 200 \"check\\n\";
        }
    }
    server {
        listen 127.0.0.1:$APP_PORT;
        location / { return 404 \"app\\n\"; }
    }
    server {
        listen 127.0.0.1:$STATUS_PORT;
        location / { stub_status; }
    }"
start_nginx
for port in "$API_PORT" "$APP_PORT" "$STATUS_PORT"; do
    wait_ready "$port" "$NGINX_PID" 10 || die "nginx does not listen on $port"
done

# --- proxy configurations ---------------------------------------------------

# One template, the same file for Weir and HAProxy.
write_http_cfg() {
    cat >"$1" <<EOF
# Generated by bench/http.sh; identical for Weir and HAProxy.
global
    maxconn $MAXCONN
    ulimit-n $ULIMIT_N
    nbthread 1

defaults
    mode http
    maxconn $MAXCONN
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 60s
    option forwardfor
    http-reuse safe

frontend bench
    bind 127.0.0.1:$PROXY_PORT
    acl is_api path_beg /api
    acl is_bench_host hdr(host) -i $HOST
    http-request set-header X-Proxy weir-bench
    use_backend api if is_api is_bench_host
    default_backend app

backend api
    server api1 127.0.0.1:$API_PORT

backend app
    server app1 127.0.0.1:$APP_PORT
EOF
}

# The same for nginx as the proxy: one process (master_process off), the two
# conditions (location prefix, then a map on Host), X-Forwarded-For and
# X-Proxy set, HTTP/1.1 keep-alive to the backends.
write_nginx_proxy_cfg() {
    local dir=$1
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
# Generated by bench/http.sh: the nginx equivalent of the Weir/HAProxy file.
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile $ULIMIT_N;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections $NGINX_CONNS; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_header_timeout 10s;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;

    upstream api { server 127.0.0.1:$API_PORT; keepalive 256; }
    upstream app { server 127.0.0.1:$APP_PORT; keepalive 256; }
    map \$http_host \$api_or_app { default app; "~*^bench\\.example\$" api; }

    server {
        listen 127.0.0.1:$PROXY_PORT;
        proxy_http_version 1.1;
        proxy_connect_timeout 5s;
        proxy_read_timeout 60s;
        proxy_send_timeout 60s;
        proxy_set_header Connection "";
        proxy_set_header Host \$http_host;
        proxy_set_header X-Forwarded-For \$remote_addr;
        proxy_set_header X-Proxy weir-bench;
        location / { proxy_pass http://app; }
        location /api { proxy_pass http://\$api_or_app; }
    }
}
EOF
}

# nginx's worker_connections counts server-side connections too.
NGINX_CONNS=$(( 2 * MAXCONN < ULIMIT_N ? 2 * MAXCONN : ULIMIT_N ))
write_http_cfg "$WORK/weir.cfg"
write_http_cfg "$WORK/haproxy.cfg"
write_nginx_proxy_cfg "$WORK/nginxproxy"
cmp -s "$WORK/weir.cfg" "$WORK/haproxy.cfg" || die "the Weir and HAProxy files differ"

for p in "${PROXIES[@]}"; do
    case $p in
        weir) "$WEIR_BIN" -c -f "$WORK/weir.cfg" >"$WORK/check.weir" 2>&1 \
            || { cat "$WORK/check.weir" >&2; die "weir -c rejects the configuration"; } ;;
        haproxy) "$HAPROXY_BIN" -c -f "$WORK/haproxy.cfg" >"$WORK/check.haproxy" 2>&1 \
            || { cat "$WORK/check.haproxy" >&2; die "haproxy -c rejects the configuration"; } ;;
        nginx) nginx -t -p "$WORK/nginxproxy" -e "$WORK/nginxproxy/error.log" -c "$WORK/nginxproxy/nginx.conf" \
            >"$WORK/check.nginx" 2>&1 || { cat "$WORK/check.nginx" >&2; die "nginx -t rejects the configuration"; } ;;
    esac
done

proxy_cmd() {
    case $1 in
        weir) echo "${2:-$WEIR_BIN} $WEIR_FLAGS -f $WORK/weir.cfg" ;;
        haproxy) echo "$HAPROXY_BIN -db -f $WORK/haproxy.cfg" ;;
        nginx) echo "nginx -p $WORK/nginxproxy -e $WORK/nginxproxy/error.log -c $WORK/nginxproxy/nginx.conf" ;;
    esac
}

proxy_version() {
    case $1 in
        weir) "$WEIR_BIN" -v 2>&1 | head -n 1 || true ;;
        haproxy) "$HAPROXY_BIN" -v 2>&1 | head -n 1 || true ;;
        nginx) nginx -v 2>&1 | head -n 1 || true ;;
    esac
}

# --- starting a proxy, checking what it does ---------------------------------

# start_proxy P: starts P pinned to PROXY_CPU, waits until it accepts; sets PID.
start_proxy() {
    local p=$1
    # shellcheck disable=SC2046
    taskset -c "$PROXY_CPU" $(proxy_cmd "$p") >>"$WORK/$p.out" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    wait_ready "$PROXY_PORT" "$PID" 20 || { tail -n 20 "$WORK/$p.out" >&2; die "$p did not start"; }
}

# check_proxy P: the rules route, and the headers the proxy adds arrive.
check_proxy() {
    local p=$1 url="http://127.0.0.1:$PROXY_PORT" seen code size
    seen=$(curl -sf --max-time 5 -D - -o /dev/null -H "Host: $HOST" "$url/api/check" | tr -d '\r' \
        | awk -F': ' 'tolower($1) == "x-seen" { print $2 }') || die "$p: /api/check failed"
    [[ $seen == "proxy=weir-bench xff=127.0.0.1 host=$HOST" ]] \
        || die "$p: the backend saw '$seen', not 'proxy=weir-bench xff=127.0.0.1 host=$HOST'"
    code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H "Host: other.example" "$url/api/check")
    [[ $code == 404 ]] || die "$p: Host other.example reached 'api' ($code), expected app's 404"
    code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H "Host: $HOST" "$url/check")
    [[ $code == 404 ]] || die "$p: /check reached 'api' ($code), expected app's 404"
    size=$(curl -sf --max-time 5 -o /dev/null -w '%{size_download}' -H "Host: $HOST" "$url$BIG") \
        || die "$p: $BIG failed"
    [[ $size == 16384 ]] || die "$p: $BIG returned $size bytes"
    curl -sf --max-time 5 -o /dev/null -H "Host: $HOST" -H "Connection: close" "$url$SMALL" \
        || die "$p: $SMALL with Connection: close failed"
    log "$p: routing and added headers checked ($seen)"
}

# Connections the backends have accepted so far (the query's own included).
backend_accepts() {
    curl -sf --max-time 5 "http://127.0.0.1:$STATUS_PORT/" | awk 'NR == 3 { print $1 }'
}

# median FORMAT VALUE...: the median, printed with the printf FORMAT.
median() {
    local fmt=$1
    shift
    printf '%s\n' "$@" | sort -g | awk -v f="$fmt" '{ a[NR] = $1 } END {
        if (NR == 0) print "-"
        else printf f "\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# Voluntary context switches so far: each is a sleep the proxy woke from.
sleeps() {
    awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$1/status"
}

# utime alone, in clock ticks (field 14 of /proc/PID/stat).
user_ticks() {
    local stat rest
    stat=$(cat "/proc/$1/stat")
    rest=${stat##*) }
    awk '{ print $12 }' <<<"$rest"
}

declare -A SCONN RUNS SC USR_US SLEEPS
declare -A RPS P50 P99 CPU_US ERRS PEAK_KIB RSS0_KIB RSS_IDLE_KIB IDLE_HELD IDLE_CLOSED LOADAVG
declare -A IR

note_peak() {
    local p=$1 k
    k=$(peak_rss_kib "$PID")
    if [[ -z ${PEAK_KIB[$p]:-} || $k -gt ${PEAK_KIB[$p]} ]]; then PEAK_KIB[$p]=$k; fi
}

# --- scenario: idle keep-alive connections ---------------------------------

run_idle() {
    local p=$1 cpid line i
    start_proxy "$p"
    check_proxy "$p"
    sleep 1
    RSS0_KIB[$p]=$(rss_kib "$PID")
    log "$p: $IDLE_CONNS idle keep-alive connections (RSS before: ${RSS0_KIB[$p]} KiB)"
    taskset -c "$LOAD_CPU" python3 "$ROOT/bench/idleconns.py" "$PROXY_PORT" "$IDLE_CONNS" "$HOST" "$SMALL" 240 \
        >"$WORK/$p.idle" 2>&1 &
    cpid=$!
    PIDS+=("$cpid")
    for ((i = 0; i < 2400; i++)); do
        grep -q '^ready' "$WORK/$p.idle" && break
        kill -0 "$cpid" 2>/dev/null || break
        sleep 0.1
    done
    line=$(grep '^ready' "$WORK/$p.idle") || { cat "$WORK/$p.idle" >&2; die "$p: the idle client did not finish"; }
    # Let the proxy settle (freed buffers, idle server connections).
    sleep 2
    RSS_IDLE_KIB[$p]=$(rss_kib "$PID")
    kill -TERM "$cpid" 2>/dev/null || true
    wait "$cpid" 2>/dev/null || true
    IDLE_HELD[$p]=$(awk '/^held/ { print $2 }' "$WORK/$p.idle")
    IDLE_CLOSED[$p]=$(awk '/^held/ { print $4 }' "$WORK/$p.idle")
    log "$p: $line; RSS with them ${RSS_IDLE_KIB[$p]} KiB; $(grep '^held' "$WORK/$p.idle")"
    [[ $(awk '{ print $3 }' <<<"$line") == 0 ]] || log "$p: WARNING: some idle connections failed: $line"
    note_peak "$p"
    stop "$PID"
}

# --- scenarios under wrk -----------------------------------------------------

# wrk_args SCENARIO: sets WRK_ARGS (an array: header values hold spaces).
wrk_args() {
    case $1 in
        ka) WRK_ARGS=(-H "Host: $HOST" "http://127.0.0.1:$PROXY_PORT$SMALL") ;;
        close) WRK_ARGS=(-H "Host: $HOST" -H "Connection: close" "http://127.0.0.1:$PROXY_PORT$SMALL") ;;
        16k) WRK_ARGS=(-H "Host: $HOST" "http://127.0.0.1:$PROXY_PORT$BIG") ;;
        *) die "unknown scenario $1" ;;
    esac
}

# run_wrk PROXY SCENARIO ROUND: one measured wrk run; results under P:S:R.
run_wrk() {
    local p=$1 s=$2 r=$3 out t0 t1 u0 u1 a0 a1 v0 v1 requests non2xx k=$1:$2:$3
    wrk_args "$s"
    start_proxy "$p"
    LOADAVG[$k]=$(cut -d' ' -f1 /proc/loadavg)
    if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
        timeout 120 taskset -c "$LOAD_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "${WRK_ARGS[@]}" >/dev/null
    fi
    log "$p/$s round $r: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency ${WRK_ARGS[*]} (load ${LOADAVG[$k]})"
    a0=$(backend_accepts)
    t0=$(cpu_ticks "$PID")
    u0=$(user_ticks "$PID")
    v0=$(sleeps "$PID")
    out=$(timeout 600 taskset -c "$LOAD_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${WRK_ARGS[@]}")
    t1=$(cpu_ticks "$PID")
    u1=$(user_ticks "$PID")
    v1=$(sleeps "$PID")
    a1=$(backend_accepts)
    printf '%s\n' "$out" >"$WORK/$p.$s.$r.wrk"
    printf '%s\n' "$out" | sed 's/^/    /' >&2
    requests=$(awk '/requests in/ { print $1; exit }' <<<"$out")
    [[ -n $requests && $requests -gt 0 ]] || die "$p/$s: wrk completed no request"
    RPS[$k]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
    P50[$k]=$(to_ms "$(awk '$1 == "50%" { print $2; exit }' <<<"$out")")
    P99[$k]=$(to_ms "$(awk '$1 == "99%" { print $2; exit }' <<<"$out")")
    CPU_US[$k]=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN { printf "%.2f", d / hz / n * 1e6 }')
    USR_US[$k]=$(awk -v d=$((u1 - u0)) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN { printf "%.2f", d / hz / n * 1e6 }')
    SLEEPS[$k]=$(awk -v d=$((v1 - v0)) -v n="$requests" 'BEGIN { printf "%.3f", d / n }')
    # Server connections the proxy opened per request (the stub_status
    # query between the two readings counts one).
    SCONN[$k]=$(awk -v d=$((a1 - a0 - 1)) -v n="$requests" 'BEGIN { printf "%.3f", d / n }')
    ERRS[$k]=$(awk '/Socket errors|Non-2xx/ { sub(/^ +/, ""); printf "%s; ", $0 }' <<<"$out")
    # Every response must be nginx's 200: a 404 means the rules misrouted.
    non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
    [[ -z $non2xx ]] || die "$p/$s: $non2xx responses were not 2xx/3xx"
    note_peak "$p"
    stop "$PID"
}

# --- syscalls per request ---------------------------------------------------------

# syscall_run P MODE: strace -c on a running P while SC_REQUESTS sequential
# requests go through it (as the callgrind runs do); sets SC[P:MODE] to a
# summary of the system calls per request.
syscall_run() {
    local p=$1 mode=$2 st file=$WORK/strace.$p.$2
    start_proxy "$p"
    curl -sf --max-time 5 -o /dev/null -H "Host: $HOST" "http://127.0.0.1:$PROXY_PORT$SMALL" || die "$p: no answer"
    strace -c -f -p "$PID" -o "$file" 2>/dev/null &
    st=$!
    sleep 1
    timeout 300 taskset -c "$LOAD_CPU" python3 "$ROOT/bench/httpclient.py" "$PROXY_PORT" "$SC_REQUESTS" "$mode" "$HOST" "$SMALL" \
        || die "$p: the strace client failed"
    kill -INT "$st" 2>/dev/null || true
    wait "$st" 2>/dev/null || true
    stop "$PID"
    # strace -c: % time, seconds, usecs/call, calls, [errors,] syscall.
    SC[$p:$mode]=$(awk -v n="$SC_REQUESTS" '
        $NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {
            calls = $4; errs = (NF == 6) ? $5 : 0; total += calls
            if ($NF == "epoll_ctl") ctl += calls
            else if ($NF == "epoll_wait" || $NF == "epoll_pwait") wt += calls
            else if ($NF ~ /^(read|recvfrom|recvmsg|readv)$/) { rd += calls; again += errs }
            else if ($NF ~ /^(write|sendto|sendmsg|writev|splice)$/) wr += calls
        }
        END { printf "%.2f (epoll_ctl %.2f, epoll_wait %.2f, reads %.2f of which failed %.2f, sends %.2f)",
              total / n, ctl / n, wt / n, rd / n, again / n, wr / n }' "$file")
    log "$p: syscalls per request ($mode): ${SC[$p:$mode]}"
}

# --- callgrind ----------------------------------------------------------------

# Every allocator entry point gets its callers separated (12 deep), so the
# profile names each chain that allocates; this changes no count.
CG_SEPARATE=()
for f in malloc calloc realloc free posix_memalign aligned_alloc memalign; do
    CG_SEPARATE+=("--separate-callers12=$f")
done

# callgrind_run P MODE N PATH: one run of P under callgrind serving N requests;
# prints its total Ir. The profile is $WORK/cg.P.MODE.N.PATHNAME.out.
callgrind_run() {
    local p=$1 mode=$2 n=$3 path=$4 file pid total t0
    file=$WORK/cg.$p.$mode.$n.${path##*/}.out
    rm -f "$file"
    # shellcheck disable=SC2046
    taskset -c "$PROXY_CPU" valgrind --tool=callgrind "${CG_SEPARATE[@]}" --callgrind-out-file="$file" \
        $(proxy_cmd "$p" "$(callgrind_binary "$p")") >"$file.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_ready "$PROXY_PORT" "$pid" 120 || { tail -n 20 "$file.log" >&2; die "$p did not start under valgrind"; }
    # One request on its own connection, in every run (so it cancels out):
    # the proxy is serving, and done starting up (nginx installs its signal
    # handlers after it listens; a SIGTERM before them leaves no profile).
    curl -sf --max-time 60 -o /dev/null -H "Host: $HOST" "http://127.0.0.1:$PROXY_PORT$SMALL" \
        || { tail -n 20 "$file.log" >&2; die "$p does not serve under valgrind"; }
    if [[ $n -gt 0 ]]; then
        timeout 900 taskset -c "$LOAD_CPU" python3 "$ROOT/bench/httpclient.py" "$PROXY_PORT" "$n" "$mode" "$HOST" "$path" \
            || die "$p: the callgrind client failed ($mode $path)"
    fi
    t0=$SECONDS
    stop "$pid"
    if [[ ! -s $file ]]; then
        log "$p: callgrind wrote no profile ($file; stopping took $((SECONDS - t0)) s): $(tail -n 3 "$file.log" | tr '\n' ' ')"
        return 1
    fi
    total=$(awk '/^totals:/ { t = $2 } /^summary:/ { s = $2 } END { print (t != "" ? t : s) }' "$file")
    [[ -n $total ]] || { log "$p: no instruction total in $file"; return 1; }
    echo "$total"
}

# callgrind_try ...: callgrind_run, once more if it left no profile.
callgrind_try() {
    callgrind_run "$@" || callgrind_run "$@"
}

run_callgrind() {
    local p=$1 base v
    log "$p: callgrind, 0 requests (startup baseline)"
    base=$(callgrind_try "$p" ka 0 "$SMALL") || { log "WARNING: $p: no callgrind figures"; return 0; }
    for spec in "ka:$SMALL:ka" "new:$SMALL:new" "ka:$BIG:16k"; do
        IFS=: read -r mode path key <<<"$spec"
        log "$p: callgrind, $CG_REQUESTS requests ($mode, $path)"
        v=$(callgrind_try "$p" "$mode" "$CG_REQUESTS" "$path") || { log "WARNING: $p: no callgrind figure for $key"; continue; }
        IR[$p:$key]=$(( (v - base) / CG_REQUESTS ))
        log "$p: $key: $(( v - base )) instructions over the baseline's $base: ${IR[$p:$key]} per request"
    done
}

# --- the run -----------------------------------------------------------------

for p in "${PROXIES[@]}"; do
    log "$p: $(proxy_version "$p")"
done
# host_stalls: the pauses the host takes from the two CPUs while both are busy.
host_stalls() {
    [[ $HOST_STALLS == 0 ]] && return
    log "host stalls: bench/hoststalls.py $HOST_STALLS $PROXY_CPU $LOAD_CPU"
    timeout 120 python3 "$ROOT/bench/hoststalls.py" "$HOST_STALLS" "$PROXY_CPU" "$LOAD_CPU" | paste -sd ';' - | sed 's/;/; /g'
}
# Scenario by scenario, each proxy in turn, so the figures compared are close
# in time on a shared machine.
STALLS_START=$(host_stalls)
if [[ $IDLE_CONNS -gt 0 ]]; then
    for p in "${PROXIES[@]}"; do run_idle "$p"; done
fi
for ((r = 1; r <= ROUNDS; r++)); do
    for s in $SCENARIOS; do
        for p in "${PROXIES[@]}"; do run_wrk "$p" "$s" "$r"; done
    done
done
# The median over the rounds of each figure; every round listed in the report.
for s in $SCENARIOS; do
    for p in "${PROXIES[@]}"; do
        for spec in RPS:%.0f P50:%.2f P99:%.2f CPU_US:%.2f USR_US:%.2f SLEEPS:%.3f SCONN:%.3f; do
            declare -n a=${spec%%:*}
            vals=()
            for ((r = 1; r <= ROUNDS; r++)); do vals+=("${a[$p:$s:$r]}"); done
            a[$p:$s]=$(median "${spec#*:}" "${vals[@]}")
            unset -n a
        done
        RUNS[$p:$s]=""
        for ((r = 1; r <= ROUNDS; r++)); do
            RUNS[$p:$s]+=" [${RPS[$p:$s:$r]} req/s, p99 ${P99[$p:$s:$r]} ms, ${CPU_US[$p:$s:$r]} us/req, load ${LOADAVG[$p:$s:$r]}]"
            [[ -n ${ERRS[$p:$s:$r]:-} ]] && ERRS[$p:$s]+="round $r: ${ERRS[$p:$s:$r]}"
        done
    done
done
LOAD_WRK_END=$(cut -d' ' -f1-3 /proc/loadavg)
STALLS_END=$(host_stalls)
if [[ $STRACE == 1 ]]; then
    if command -v strace >/dev/null; then
        for p in "${PROXIES[@]}"; do
            syscall_run "$p" ka
            syscall_run "$p" new
        done
    else
        log "strace is missing: no syscall counts"
        STRACE=0
    fi
fi
if [[ $CALLGRIND == 1 ]]; then
    for p in "${PROXIES[@]}"; do
        [[ " $CG_PROXIES " == *" $p "* ]] && run_callgrind "$p"
    done
fi

# --- report --------------------------------------------------------------------

kib_mib() { [[ -n ${1:-} && $1 != - ]] && awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }' || echo -; }
per_conn() {
    local a=${RSS_IDLE_KIB[$1]:-} b=${RSS0_KIB[$1]:-} n=${IDLE_HELD[$1]:-}
    if [[ -z $a || -z $b || -z $n || $n == 0 ]]; then echo -; return; fi
    awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "%.2f", (a - b) / n }'
}

row() {
    local label=$1 w=$2 h=$3 n=$4
    printf '%-34s %11s %11s %11s %9s %9s\n' "$label" "$w" "$h" "$n" "$(ratio "$w" "$h")" "$(ratio "$w" "$n")"
}

report() {
    local cpu s label
    cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    echo "Weir vs HAProxy vs nginx, mode http, $(date -u '+%Y-%m-%d %H:%M UTC'), Weir $(git -C "$ROOT" rev-parse --short HEAD)"
    echo "machine: ${cpu:-unknown CPU}, $(nproc --all) CPUs, $(uname -r)"
    echo "load average: $LOAD_START at the start, $LOAD_WRK_END after the wrk runs, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
    if [[ $HOST_STALLS != 0 ]]; then
        echo "host stalls, both CPUs busy, before the wrk runs: $STALLS_START"
        echo "host stalls, both CPUs busy, after the wrk runs:  $STALLS_END"
    fi
    echo "proxy on CPU $PROXY_CPU; wrk, clients and backends on CPU $LOAD_CPU; backend: $(nginx -v 2>&1 | sed 's/^nginx version: //')"
    echo "load: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (warm-up $WARMUP), Host: $HOST, $SMALL (64 B) or $BIG"
    echo "wrk figures: the median of $ROUNDS round(s), each proxy in turn per scenario; every round listed below the table"
    [[ $CALLGRIND == 1 ]] && echo "callgrind: $CG_REQUESTS requests per run, a run of 0 requests subtracted"
    echo "configs: maxconn $MAXCONN, ulimit-n $ULIMIT_N (hard limit $hard)"
    if [[ $IDLE_CONNS -ne $IDLE_ASKED ]]; then
        echo "idle connections: $IDLE_CONNS, not $IDLE_ASKED: HAProxy needs ulimit-n >= 2 x maxconn, the hard limit is $hard"
    fi
    for p in "${PROXIES[@]}"; do echo "$p: $(proxy_version "$p")"; done
    echo
    printf '%-34s %11s %11s %11s %9s %9s\n' metric weir haproxy nginx w/h w/n
    for s in $SCENARIOS; do
        case $s in
            ka) label="keep-alive 64 B" ;;
            close) label="Connection: close 64 B" ;;
            16k) label="keep-alive 16 KiB" ;;
        esac
        row "$label: requests/s" "$(get RPS "weir:$s")" "$(get RPS "haproxy:$s")" "$(get RPS "nginx:$s")"
        row "$label: p50 (ms)" "$(get P50 "weir:$s")" "$(get P50 "haproxy:$s")" "$(get P50 "nginx:$s")"
        row "$label: p99 (ms)" "$(get P99 "weir:$s")" "$(get P99 "haproxy:$s")" "$(get P99 "nginx:$s")"
        row "$label: CPU/req (us)" "$(get CPU_US "weir:$s")" "$(get CPU_US "haproxy:$s")" "$(get CPU_US "nginx:$s")"
        row "$label: of which user (us)" "$(get USR_US "weir:$s")" "$(get USR_US "haproxy:$s")" "$(get USR_US "nginx:$s")"
        row "$label: sleeps/req" "$(get SLEEPS "weir:$s")" "$(get SLEEPS "haproxy:$s")" "$(get SLEEPS "nginx:$s")"
        row "$label: server conns/req" "$(get SCONN "weir:$s")" "$(get SCONN "haproxy:$s")" "$(get SCONN "nginx:$s")"
    done
    if [[ $IDLE_CONNS -gt 0 ]]; then
        row "RSS before idle conns (MiB)" "$(kib_mib "${RSS0_KIB[weir]:-}")" "$(kib_mib "${RSS0_KIB[haproxy]:-}")" \
            "$(kib_mib "${RSS0_KIB[nginx]:-}")"
        row "RSS, $IDLE_CONNS idle conns (MiB)" "$(kib_mib "${RSS_IDLE_KIB[weir]:-}")" \
            "$(kib_mib "${RSS_IDLE_KIB[haproxy]:-}")" "$(kib_mib "${RSS_IDLE_KIB[nginx]:-}")"
        row "RSS per idle conn (KiB)" "$(per_conn weir)" "$(per_conn haproxy)" "$(per_conn nginx)"
    fi
    row "peak RSS, all scenarios (MiB)" "$(kib_mib "${PEAK_KIB[weir]:-}")" "$(kib_mib "${PEAK_KIB[haproxy]:-}")" \
        "$(kib_mib "${PEAK_KIB[nginx]:-}")"
    if [[ $CALLGRIND == 1 ]]; then
        row "instr/req, keep-alive 64 B" "$(get IR weir:ka)" "$(get IR haproxy:ka)" "$(get IR nginx:ka)"
        row "instr/req, new conn 64 B" "$(get IR weir:new)" "$(get IR haproxy:new)" "$(get IR nginx:new)"
        row "instr/req, keep-alive 16 KiB" "$(get IR weir:16k)" "$(get IR haproxy:16k)" "$(get IR nginx:16k)"
    fi
    echo
    echo "targets (weir/haproxy): CPU/req <= 0.80, instr/req <= 0.20, p99 <= 1.00, idle RSS <= 1.00"
    if [[ " ${PROXIES[*]} " == *" weir "* && " ${PROXIES[*]} " == *" haproxy "* ]]; then
        for s in $SCENARIOS; do
            local ratios=""
            for ((r = 1; r <= ROUNDS; r++)); do
                ratios+=" $(ratio "${P99[weir:$s:$r]:-}" "${P99[haproxy:$s:$r]:-}")"
            done
            echo "p99 weir/haproxy per round, $s:$ratios"
        done
    fi
    if [[ $STRACE == 1 ]]; then
        echo "system calls per request (strace -c, $SC_REQUESTS sequential requests, one keep-alive connection / one connection each):"
        for p in "${PROXIES[@]}"; do
            echo "  $p keep-alive: ${SC[$p:ka]:--}"
            echo "  $p new conn:   ${SC[$p:new]:--}"
        done
    fi
    for p in "${PROXIES[@]}"; do
        if [[ $IDLE_CONNS -gt 0 ]]; then
            echo "$p: idle connections held ${IDLE_HELD[$p]:--}, closed by the proxy meanwhile ${IDLE_CLOSED[$p]:--}"
        fi
        for s in $SCENARIOS; do
            [[ -n ${ERRS[$p:$s]:-} ]] && echo "$p/$s: wrk reported: ${ERRS[$p:$s]}"
            [[ -n ${RUNS[$p:$s]:-} ]] && echo "$p/$s:${RUNS[$p:$s]}"
        done
    done
}

echo
report | tee "$RESULTS"
log "written to ${RESULTS#"$ROOT"/}"

# --- the per-request profile -----------------------------------------------------

if [[ $CALLGRIND == 1 ]]; then
    {
        for p in "${PROXIES[@]}"; do
            [[ " $CG_PROXIES " == *" $p "* ]] || continue
            for spec in "ka:$SMALL:keep-alive 64 B" "new:$SMALL:new connection per request, 64 B" "ka:$BIG:keep-alive 16 KiB"; do
                IFS=: read -r mode path label <<<"$spec"
                [[ -s $WORK/cg.$p.$mode.$CG_REQUESTS.${path##*/}.out ]] || continue
                echo "=== $p: $label ($CG_REQUESTS requests minus a run of none)"
                python3 "$ROOT/bench/cgprofile.py" "$WORK/cg.$p.ka.0.small.out" \
                    "$WORK/cg.$p.$mode.$CG_REQUESTS.${path##*/}.out" "$CG_REQUESTS" 25
                echo
            done
        done
    } >"$PROFILE"
    log "per-request profiles written to ${PROFILE#"$ROOT"/}"
fi
