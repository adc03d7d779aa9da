# shellcheck shell=bash
# Helpers shared by bench/run.sh, bench/reload.sh and bench/http.sh. Sourced,
# not run.
#
# The caller sets, before calling what needs them:
#   WORK        a private temporary directory
#   PIDS        an array; every process started here is appended to it
#   NGINX_PORT  LOAD_CPU   for start_nginx
# All traffic goes to 127.0.0.1. Every loop is bounded in count and time.

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# Stops every process in PIDS, then removes WORK unless KEEP_WORK=1. Meant
# for `trap bench_cleanup EXIT`.
bench_cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ ${KEEP_WORK:-0} == 1 ]]; then
        log "work files kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}

# Succeeds once a TCP connection to 127.0.0.1:$1 is accepted.
port_accepts() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

port_free() {
    ! port_accepts "$1"
}

# wait_ready PORT PID LIMIT_SECONDS: polls until the port accepts a connection;
# fails if the process dies or the limit passes. One probe connection is made
# once the port is open (the same single connection in every callgrind run).
wait_ready() {
    local port=$1 pid=$2 limit=$3 i
    for ((i = 0; i < limit * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        # /proc/net/tcp lists listening sockets: probe only once one is there,
        # so that exactly one connection reaches the proxy.
        if listening "$port"; then
            port_accepts "$port" && return 0
        fi
        sleep 0.05
    done
    return 1
}

# Succeeds when some socket listens on 127.0.0.1:$1 (or 0.0.0.0:$1).
listening() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" '$4 == "0A" && ($2 == "0100007F" p || $2 == "00000000" p) { found = 1 } END { exit !found }' \
        /proc/net/tcp
}

# stop PID: SIGTERM, then wait at most 30 s, then SIGKILL.
stop() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# utime+stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat,
# counted after the command name, which may contain spaces).
cpu_ticks() {
    local stat rest
    stat=$(cat "/proc/$1/stat")
    rest=${stat##*) }
    awk '{ print $12 + $13 }' <<<"$rest"
}

# Peak and current resident set of a process, in KiB.
peak_rss_kib() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}
rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# A wrk latency like 1.23ms, 456.00us or 1.02s, in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n = n / 1000
        else if (v ~ /ms$/) n = n
        else if (v ~ /m$/) n = n * 60000
        else if (v ~ /s$/) n = n * 1000
        printf "%.3f", n
    }'
}

# ratio A B: A/B with two decimals, or "-" when either is missing or B is 0.
ratio() {
    local a=${1:-} b=${2:-}
    if [[ -z $a || -z $b || $a == - || $b == - ]]; then
        echo -
        return
    fi
    awk -v a="$a" -v b="$b" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'
}

# get ARRAY KEY: the element, or "-" when unset.
get() {
    local -n arr=$1
    echo "${arr[$2]:--}"
}

# start_nginx: nginx as one foreground process on 127.0.0.1:NGINX_PORT, pinned
# to LOAD_CPU, serving a 64-byte static body with keep-alive; sets NGINX_PID.
# The same body is also /api/small, and /api/16k is 16 KiB (bench/http.sh);
# NGINX_EXTRA, when set, is added inside the http block (more servers).
start_nginx() {
    mkdir -p "$WORK/nginx/html/api" "$WORK/nginx/tmp"
    # A small static body: 64 bytes.
    printf 'weir bench: a small static body served by nginx for the proxy.\n' >"$WORK/nginx/html/index.html"
    cp "$WORK/nginx/html/index.html" "$WORK/nginx/html/api/small"
    head -c 16384 /dev/zero | tr '\0' 'w' >"$WORK/nginx/html/api/16k"
    cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/nginx/html;
        location / { }
    }
${NGINX_EXTRA:-}
}
EOF
    log "starting nginx on 127.0.0.1:$NGINX_PORT (CPU $LOAD_CPU)"
    taskset -c "$LOAD_CPU" nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" \
        >"$WORK/nginx/stdout.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    wait_ready "$NGINX_PORT" "$NGINX_PID" 10 || { cat "$WORK/nginx/error.log" >&2; die "nginx did not start"; }
    curl -sf "http://127.0.0.1:$NGINX_PORT/" >/dev/null || die "nginx does not serve the body"
}

# write_proxy_cfg FILE GENERATOR PROXY_PORT: the configuration both proxies
# get, identical for Weir and HAProxy: mode tcp, one frontend, one nginx server.
write_proxy_cfg() {
    cat >"$1" <<EOF
# Generated by $2; identical for Weir and HAProxy.
global
    maxconn 4096
    nbthread 1

defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend bench
    bind 127.0.0.1:$3
    default_backend nginx

backend nginx
    balance roundrobin
    server n1 127.0.0.1:$NGINX_PORT
EOF
}

# callgrind_binary P: the binary to run P from under valgrind, printed for
# Weir only (empty for the others). Valgrind 3.19 cannot read the DWARF of
# some Swift release builds ("debuginfo reader: Possibly corrupted"), so
# Weir runs from a copy without debug sections; its symbol table stays, so
# functions keep their names.
callgrind_binary() {
    [[ $1 == weir ]] || return 0
    local copy=$WORK/weir.callgrind
    [[ -x $copy ]] || strip --strip-debug -o "$copy" "$WEIR_BIN" || die "strip --strip-debug $WEIR_BIN failed"
    echo "$copy"
}
