#!/usr/bin/env bash
# The checks of issue 7 on the Debian package, as CI can run them (as root,
# on Debian 12, on a machine where weir is not installed):
#
#   packaging/check.sh [--deb PATH] [--install-deps] [--keep]
#
#   --deb PATH      check this .deb instead of building one with
#                   packaging/build-deb.sh
#   --install-deps  install the build dependencies (build-deb.sh) and the
#                   tools the checks use (lintian, man-db, python3, systemd
#                   for systemd-analyze) with apt-get
#   --keep          leave the package installed at the end (it is purged
#                   otherwise, which is itself checked)
#
# Steps: build the .deb; lintian shows no error; dpkg -i; the user and group
# weir exist; ldd /usr/sbin/weir shows no Swift library; weir -vv reports the
# package's version; weir -c passes on /etc/weir/weir.cfg; man weir and man
# weir.cfg render; systemd-analyze verify on the unit; the unit's commands run
# by hand as systemd would (packaging/unit-by-hand.py: start -> READY=1,
# ExecReload under load -> exit 0 and no failed request, a broken
# configuration -> ExecReload fails and the old configuration serves,
# dpkg -i again under the running master then ExecReload, as an upgrade does
# -> the same process runs the new file; SIGTERM -> STOPPING=1 and exit 0);
# dpkg -r, then dpkg -P, leave nothing behind. Only loopback addresses;
# every wait is bounded.
#
# Prints PASS/FAIL/PENDING lines and ends with "N passed, N failed"; exits 1
# if a check failed. PENDING marks a check that waits on work not in this
# weir yet (global user/group/chroot applied in the workers).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
deb=
install_deps=0
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --deb) deb=$2; shift 2 ;;
        --install-deps) install_deps=1; shift ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" != 0 ]; then
    echo "check.sh: run as root (it installs the package)" >&2
    exit 2
fi
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

passed=0
failed=0
pending=0
pass() { passed=$((passed + 1)); echo "PASS $1${2:+: $2}"; }
fail() { failed=$((failed + 1)); echo "FAIL $1${2:+: $2}"; }
section() { echo; echo "== $1"; }
finish() {
    echo
    echo "check: $passed passed, $failed failed${pending:+, $pending pending}"
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
    exit $?
}

if [ "$install_deps" = 1 ]; then
    section "apt: tools the checks use"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends lintian man-db python3 systemd adduser >/dev/null
fi

if dpkg-query -W -f='${Status}' weir 2>/dev/null | grep -q 'install ok installed\|config-files'; then
    echo "check.sh: weir is already installed here; remove it first (dpkg -P weir)" >&2
    exit 2
fi

# --- build ---------------------------------------------------------------------------------
if [ -z "$deb" ]; then
    section "build: packaging/build-deb.sh"
    opts=(--no-lintian)
    [ "$install_deps" = 1 ] && opts+=(--install-deps)
    log=$(mktemp)
    if "$here/build-deb.sh" "${opts[@]}" >"$log" 2>&1; then
        deb=$(tail -n 1 "$log")
        pass "build" "$deb"
    else
        tail -n 40 "$log"
        fail "build" "build-deb.sh failed"
        rm -f "$log"
        finish
    fi
    rm -f "$log"
fi
[ -f "$deb" ] || { fail "package" "$deb does not exist"; finish; }
version=$(dpkg-deb -f "$deb" Version)

# --- lintian -------------------------------------------------------------------------------
section "lintian $(basename "$deb")"
if command -v lintian >/dev/null 2>&1; then
    out=$(lintian --pedantic --display-info "$deb" 2>&1 | grep -v '^running with root privileges')
    [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    | /'
    errors=$(printf '%s\n' "$out" | grep -c '^E: ' || true)
    warnings=$(printf '%s\n' "$out" | grep -c '^W: ' || true)
    if [ "$errors" = 0 ]; then
        pass "lintian: no error" "$warnings warnings (justified in packaging/README.md)"
    else
        fail "lintian: no error" "$errors errors"
    fi
else
    fail "lintian" "not installed (use --install-deps)"
fi

# --- install -------------------------------------------------------------------------------
section "dpkg -i"
installed=0
cleanup() {
    if [ "$installed" = 1 ] && [ "$keep" = 0 ]; then
        dpkg -P weir >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
if dpkg -i "$deb"; then
    installed=1
    pass "dpkg -i" "$(dpkg-query -W -f='${Package} ${Version} ${Status}' weir)"
else
    fail "dpkg -i"
    finish
fi
if [ -d /run/systemd/system ]; then
    # Under a running systemd, postinst started the service: stop it, so
    # that its commands can be run by hand below.
    systemctl stop weir.service || true
fi

if entry=$(getent passwd weir); then
    IFS=: read -r _ _ uid gid _ home shell <<<"$entry"
    if [ "$uid" -lt 1000 ] && [ "$home" = /var/lib/weir ] && [ "$shell" = /usr/sbin/nologin ] \
            && [ "$(getent group weir | cut -d: -f3)" = "$gid" ]; then
        pass "system user and group weir" "$entry"
    else
        fail "system user and group weir" "$entry"
    fi
else
    fail "system user and group weir" "no user weir"
fi
if [ "$(stat -c '%U:%G %a' /var/lib/weir 2>/dev/null)" = "root:root 755" ] \
        && [ -z "$(ls -A /var/lib/weir)" ]; then
    pass "chroot directory /var/lib/weir" "empty, root:root 755"
else
    fail "chroot directory /var/lib/weir" "$(ls -ld /var/lib/weir 2>&1)"
fi
conffiles=$(dpkg-query -W -f='${Conffiles}' weir | awk '{print $1}' | sort | tr '\n' ' ')
if [ "$conffiles" = "/etc/default/weir /etc/weir/weir.cfg " ]; then
    pass "conffiles" "$conffiles"
else
    fail "conffiles" "$conffiles"
fi
if grep -qx 'CONFIG=/etc/weir/weir.cfg' /etc/default/weir && grep -qx 'EXTRAOPTS=' /etc/default/weir; then
    pass "/etc/default/weir" "CONFIG=/etc/weir/weir.cfg, EXTRAOPTS="
else
    fail "/etc/default/weir"
fi
for f in /usr/share/doc/weir/changelog.gz /usr/share/doc/weir/copyright /usr/share/doc/weir/examples/weir.cfg \
         /lib/systemd/system/weir.service; do
    if [ -f "$f" ]; then pass "installed $f"; else fail "installed $f" "missing"; fi
done

# --- the binary ----------------------------------------------------------------------------
section "/usr/sbin/weir"
ldd_out=$(ldd /usr/sbin/weir 2>&1)
printf '%s\n' "$ldd_out" | sed 's/^/    | /'
if printf '%s\n' "$ldd_out" | grep -qi 'swift\|not found'; then
    fail "ldd: no Swift library, nothing missing"
else
    pass "ldd: no Swift library, nothing missing"
fi
if vv=$(/usr/sbin/weir -vv 2>&1); then
    printf '%s\n' "$vv" | sed 's/^/    | /'
    if printf '%s\n' "$vv" | head -n 1 | grep -qx "Weir version ${version%-*}"; then
        pass "weir -vv" "version ${version%-*}, as the package ($version)"
    else
        fail "weir -vv" "the package is $version"
    fi
else
    fail "weir -vv" "$vv"
fi
if out=$(/usr/sbin/weir -c -f /etc/weir/weir.cfg 2>&1); then
    pass "weir -c -f /etc/weir/weir.cfg" "$(printf '%s\n' "$out" | grep -v '^ ' | tr '\n' ' ')"
else
    fail "weir -c -f /etc/weir/weir.cfg" "$out"
fi

# --- manual pages --------------------------------------------------------------------------
section "manual pages"
if ! command -v man >/dev/null 2>&1; then
    apt-get install -y -qq --no-install-recommends man-db >/dev/null
fi
for page in "8 weir" "5 weir.cfg"; do
    set -- $page
    err=$(mktemp)
    text=$(MANWIDTH=80 man -P cat "$1" "$2" 2>"$err")
    rc=$?
    if [ "$rc" = 0 ] && [ ! -s "$err" ] && [ "$(printf '%s\n' "$text" | wc -l)" -gt 50 ]; then
        pass "man $1 $2" "$(printf '%s\n' "$text" | wc -l) lines: $(printf '%s\n' "$text" | sed -n 4p | sed 's/^ *//')"
    else
        fail "man $1 $2" "exit $rc: $(head -n 5 "$err")"
    fi
    rm -f "$err"
    file=/usr/share/man/man$1/$2.$1.gz
    if warn=$(MANWIDTH=80 man --warnings -l -P cat "$file" 2>&1 >/dev/null) && [ -z "$warn" ]; then
        pass "man --warnings -l $file" "renders without a warning"
    else
        fail "man --warnings -l $file" "$warn"
    fi
done

# --- the unit ------------------------------------------------------------------------------
section "systemd-analyze verify"
if command -v systemd-analyze >/dev/null 2>&1; then
    out=$(systemd-analyze verify /lib/systemd/system/weir.service 2>&1)
    rc=$?
    [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    | /'
    if [ "$rc" = 0 ] && [ -z "$(printf '%s\n' "$out" | grep 'weir')" ]; then
        pass "systemd-analyze verify weir.service" "exit $rc, nothing about weir.service"
    else
        fail "systemd-analyze verify weir.service" "exit $rc"
    fi
else
    fail "systemd-analyze verify" "systemd-analyze is not installed (use --install-deps)"
fi

section "the unit's commands, run by hand as systemd would"
unit_out=$(mktemp)
python3 "$here/unit-by-hand.py" --unit /lib/systemd/system/weir.service --upgrade-deb "$deb" 2>&1 | tee "$unit_out"
passed=$((passed + $(grep -c '^PASS ' "$unit_out")))
failed=$((failed + $(grep -c '^FAIL ' "$unit_out")))
pending=$((pending + $(grep -c '^PENDING ' "$unit_out")))
if ! grep -q '^unit: ' "$unit_out"; then
    fail "unit-by-hand.py" "did not finish"
fi
rm -f "$unit_out"
rm -f /run/weir.pid

# --- remove, purge --------------------------------------------------------------------------
if [ "$keep" = 1 ]; then
    finish
fi

section "dpkg -r"
if dpkg -r weir >/dev/null; then pass "dpkg -r"; else fail "dpkg -r"; fi
for f in /usr/sbin/weir /lib/systemd/system/weir.service /usr/share/man/man8/weir.8.gz; do
    if [ -e "$f" ]; then fail "dpkg -r removes $f"; else pass "dpkg -r removes $f"; fi
done
if [ -f /etc/weir/weir.cfg ] && getent passwd weir >/dev/null; then
    pass "dpkg -r keeps the configuration and the user"
else
    fail "dpkg -r keeps the configuration and the user"
fi

section "dpkg -P"
if dpkg -P weir >/dev/null; then pass "dpkg -P"; installed=0; else fail "dpkg -P"; fi
left=
for f in /usr/sbin/weir /etc/weir /etc/default/weir /lib/systemd/system/weir.service /var/lib/weir \
         /usr/share/doc/weir /usr/share/man/man8/weir.8.gz /usr/share/man/man5/weir.cfg.5.gz \
         /etc/systemd/system/multi-user.target.wants/weir.service \
         /var/lib/systemd/deb-systemd-helper-enabled/weir.service.dsh-also \
         /var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/weir.service \
         /var/lib/systemd/deb-systemd-helper-masked/weir.service \
         /run/weir /run/weir.pid; do
    [ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done
getent passwd weir >/dev/null && left="$left user:weir"
getent group weir >/dev/null && left="$left group:weir"
dpkg-query -W weir >/dev/null 2>&1 && left="$left dpkg-status:weir"
if [ -z "$left" ]; then
    pass "dpkg -P leaves nothing behind" "files, user and group, dpkg's status"
else
    fail "dpkg -P leaves nothing behind" "left:$left"
fi

finish
