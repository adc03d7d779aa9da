#!/usr/bin/env python3
"""Run the commands of an installed weir.service by hand, as systemd would.

    python3 unit-by-hand.py [--unit /lib/systemd/system/weir.service] [--upgrade-deb PATH]

Used by packaging/check.sh, as root, after "dpkg -i". It reads the unit's
Environment=, EnvironmentFile=, ExecStartPre=, ExecStart=, ExecReload=,
RuntimeDirectory= and LimitNOFILE= lines, expands $VAR and ${VAR} as systemd
does, and stands in for systemd with a NOTIFY_SOCKET listener:

  start      ExecStartPre, then ExecStart; READY=1 (and MAINPID=) expected
  reload     the ExecReload lines, in order, while clients connect to the
             configured frontend without pause: zero failed requests, exit 0,
             RELOADING=1 then READY=1, the new configuration served after it
  broken     a broken configuration: ExecReload exits non-zero (the check
             line, and the master CLI line run alone too); the previous
             configuration keeps serving, with zero failed requests
  upgrade    with --upgrade-deb: dpkg -i replaces /usr/sbin/weir under the
             running master, then the ExecReload lines (what postinst's
             "systemctl reload" runs): exit 0, zero failed requests, the same
             process now runs the new file
  stop       SIGTERM to the main process (KillMode=mixed): STOPPING=1, exit
             status 0, no process left

The configuration file named by CONFIG is edited for the reload steps and
restored at the end. Only loopback addresses are used; every wait is bounded.
Prints one PASS/FAIL/PENDING line per check; exits 1 if any check failed.
"""

import argparse
import os
import pwd
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

results = {"PASS": 0, "FAIL": 0, "PENDING": 0}


def report(status, name, detail=""):
    results[status] += 1
    print(f"{status} {name}" + (f": {detail}" if detail else ""), flush=True)


# --- the unit file -------------------------------------------------------------------------

def read_unit(path):
    """Return {key: [values]} for the [Service] section (values in order)."""
    service = {}
    section = None
    with open(path) as f:
        lines = f.read().replace("\\\n", " ").splitlines()
    for line in lines:
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        if section != "Service" or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key, value = key.strip(), value.strip()
        if key.startswith("Exec") and value == "":
            service[key] = []  # an empty assignment resets the list
            continue
        service.setdefault(key, []).append(value)
    return service


def environment(service):
    env = {}
    for value in service.get("Environment", []):
        for word in shlex.split(value):
            if "=" in word:
                k, v = word.split("=", 1)
                env[k] = v
    for value in service.get("EnvironmentFile", []):
        optional = value.startswith("-")
        path = value.lstrip("-")
        try:
            with open(path) as f:
                for line in f:
                    line = line.strip()
                    if not line or line[0] in "#;" or "=" not in line:
                        continue
                    k, v = line.split("=", 1)
                    v = v.strip()
                    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                        v = v[1:-1]
                    env[k.strip()] = v
        except FileNotFoundError:
            if not optional:
                raise
    return env


def expand(command, env):
    """A command line as systemd.service(5) expands it: "$VAR" alone as a word
    becomes the value split at whitespace (nothing when empty), "${VAR}" is
    replaced in place within one word. Returns (ignore_failure, argv)."""
    ignore = False
    while command and command[0] in "-@:+!":
        ignore = ignore or command[0] == "-"
        command = command[1:]
    argv = []
    for word in shlex.split(command):
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if m:
            argv.extend(env.get(m.group(1), "").split())
            continue
        argv.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                           lambda m: env.get(m.group(1), ""), word))
    return ignore, argv


# --- systemd's side --------------------------------------------------------------------------

class Notifications:
    """The NOTIFY_SOCKET listener: an AF_UNIX datagram socket."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []  # each a dict of the datagram's assignments

    def wait_for(self, key, value=None, timeout=30.0, since=0):
        """Wait until a datagram received after message number `since` sets
        key (to value, if given). Returns that message, or None."""
        deadline = time.monotonic() + timeout
        while True:
            for msg in self.messages[since:]:
                if key in msg and (value is None or msg[key] == value):
                    return msg
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            msg = {}
            for line in data.decode(errors="replace").splitlines():
                if "=" in line:
                    k, v = line.split("=", 1)
                    msg[k] = v
            self.messages.append(msg)


class Unit:
    def __init__(self, unit_path, workdir):
        self.service = read_unit(unit_path)
        self.env = environment(self.service)
        self.workdir = workdir
        self.notify = Notifications(workdir)
        self.log = open(os.path.join(workdir, "weir.log"), "w+b")
        self.main = None
        nofile = self.service.get("LimitNOFILE", [None])[-1]
        self.nofile = int(nofile) if nofile else None

    def process_env(self, notify):
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "LANG": "C.UTF-8"}
        env.update(self.env)
        if notify:
            env["NOTIFY_SOCKET"] = self.notify.path
        return env

    def _limits(self):
        # LimitNOFILE=, as systemd sets it; where this machine does not allow
        # raising the hard limit (no CAP_SYS_RESOURCE), the highest it allows.
        if self.nofile:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
            except (ValueError, OSError):
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def nofile_note(self):
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if self.nofile and hard != resource.RLIM_INFINITY and hard < self.nofile:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, self.nofile))
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            except (ValueError, OSError):
                return (f"LimitNOFILE={self.nofile} cannot be applied on this machine "
                        f"(hard limit {hard}, not raisable here): the commands run with {hard}")
        return None

    def run(self, command, notify=False, timeout=90):
        """Run one Exec line to completion, as systemd would. Returns the exit
        status (0 for a failure the "-" prefix ignores) and the output."""
        ignore, argv = expand(command, self.env)
        p = subprocess.run(argv, env=self.process_env(notify), cwd="/",
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout,
                           preexec_fn=self._limits)
        out = p.stdout.decode(errors="replace")
        return (0 if ignore else p.returncode), out, argv

    def runtime_directories(self):
        for value in self.service.get("RuntimeDirectory", []):
            for name in value.split():
                os.makedirs(os.path.join("/run", name), mode=0o755, exist_ok=True)

    def remove_runtime_directories(self):
        for value in self.service.get("RuntimeDirectory", []):
            for name in value.split():
                shutil.rmtree(os.path.join("/run", name), ignore_errors=True)

    def start_main(self):
        _, argv = expand(self.service["ExecStart"][-1], self.env)
        self.main = subprocess.Popen(argv, env=self.process_env(True), cwd="/",
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=self._limits)
        return argv

    def log_tail(self, n=30):
        self.log.flush()
        self.log.seek(0)
        lines = self.log.read().decode(errors="replace").splitlines()
        return "\n".join("    | " + l for l in lines[-n:])


# --- processes -------------------------------------------------------------------------------

def children(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(entry))
    return kids


def session_members(sid):
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(entry))
    return members


def uid_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return []


# --- clients ---------------------------------------------------------------------------------

def get(address, timeout=5.0):
    """One HTTP request on a new connection; returns the body."""
    with socket.create_connection(address, timeout=timeout) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: weir\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"unexpected answer {head[:40]!r}")
    return body.decode(errors="replace")


class Load:
    """Clients that connect to the frontend without pause until stopped."""

    def __init__(self, address, expect, threads=4):
        self.address = address
        self.expect = expect  # a regular expression every body must match
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failed = 0
        self.errors = []
        self.bodies = {}
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(threads)]

    def _loop(self):
        while not self.stop_flag.is_set():
            try:
                body = get(self.address)
                if not re.fullmatch(self.expect, body):
                    raise RuntimeError(f"unexpected body {body!r}")
                with self.lock:
                    self.ok += 1
                    self.bodies[body] = self.bodies.get(body, 0) + 1
            except Exception as e:  # noqa: BLE001 - every failure counts
                with self.lock:
                    self.failed += 1
                    if len(self.errors) < 5:
                        self.errors.append(repr(e))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def wait_requests(self, n, timeout=30.0):
        deadline = time.monotonic() + timeout
        start = self.ok
        while self.ok < start + n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.ok >= start + n

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=10)

    def summary(self):
        return f"{self.ok} requests ok, {self.failed} failed" + (
            f" ({'; '.join(self.errors)})" if self.errors else "")


def wait_port(address, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(address, timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


# --- the scenario ----------------------------------------------------------------------------

def frontend_address(config_text):
    """The first "bind ADDR:PORT" of the first frontend section."""
    section = None
    for line in config_text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if not line[0].isspace():
            section = words[0]
            continue
        if section == "frontend" and words[0] == "bind":
            host, _, port = words[1].rpartition(":")
            return (host or "127.0.0.1", int(port))
    raise SystemExit("unit-by-hand.py: no frontend bind line in the configuration")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unit", default="/lib/systemd/system/weir.service")
    ap.add_argument("--user", default="weir", help="the user the workers should run as")
    ap.add_argument("--upgrade-deb", help="a .deb to install over the running master before a reload")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="weir-unit.")
    unit = Unit(args.unit, workdir)
    config = unit.env.get("CONFIG")
    if not config or not os.path.isfile(config):
        report("FAIL", "environment", f"CONFIG={config!r} from the unit and /etc/default/weir")
        return 1
    report("PASS", "environment", f"CONFIG={config} EXTRAOPTS={unit.env.get('EXTRAOPTS', '')!r}")
    with open(config) as f:
        original = f.read()
    address = frontend_address(original)
    try:
        return scenario(unit, config, original, address, args.user, args.upgrade_deb)
    finally:
        with open(config, "w") as f:
            f.write(original)
        if unit.main and unit.main.poll() is None:
            os.killpg(unit.main.pid, signal.SIGKILL)
            unit.main.wait(timeout=10)
        if unit.main:
            for pid in session_members(unit.main.pid):
                os.kill(pid, signal.SIGKILL)
        unit.remove_runtime_directories()
        shutil.rmtree(workdir, ignore_errors=True)


def scenario(unit, config, original, address, user, upgrade_deb):
    # start
    note = unit.nofile_note()
    if note:
        print("NOTE " + note, flush=True)
    unit.runtime_directories()
    for line in unit.service.get("ExecStartPre", []):
        status, out, argv = unit.run(line)
        if status != 0:
            report("FAIL", "ExecStartPre", f"{' '.join(argv)} exited {status}\n{out}")
            return 1
        report("PASS", "ExecStartPre", f"{' '.join(argv)} exited 0" + (f", printed {out!r}" if out else ""))
    argv = unit.start_main()
    print(f"     ExecStart: {' '.join(argv)} (pid {unit.main.pid})", flush=True)
    ready = unit.notify.wait_for("READY", "1", timeout=30)
    if not ready or unit.main.poll() is not None:
        report("FAIL", "start: READY=1", f"exit status {unit.main.poll()}, notifications {unit.notify.messages}\n{unit.log_tail()}")
        return 1
    mainpid = ready.get("MAINPID")
    if mainpid is not None and int(mainpid) != unit.main.pid:
        report("FAIL", "start: READY=1", f"MAINPID={mainpid}, expected {unit.main.pid}")
    else:
        report("PASS", "start: READY=1", f"MAINPID={mainpid}, STATUS={ready.get('STATUS', '')!r}")
    if not wait_port(address, 10):
        report("FAIL", "start: frontend", f"{address} does not accept")
        return 1
    bodies = {get(address).strip() for _ in range(4)}
    report("PASS" if bodies == {"served by s1", "served by s2"} else "FAIL",
           "start: frontend answers", f"{address[0]}:{address[1]} -> {sorted(bodies)}")
    try:
        with open("/run/weir.pid") as f:
            pidfile = int(f.read().split()[0])
        report("PASS" if pidfile == unit.main.pid else "FAIL", "start: pidfile", f"/run/weir.pid = {pidfile}")
    except (OSError, ValueError, IndexError) as e:
        report("FAIL", "start: pidfile", repr(e))
    report("PASS" if os.path.exists("/run/weir/master.sock") else "FAIL", "start: master CLI socket",
           "/run/weir/master.sock")

    # the workers' user: "global user/group" in the packaged configuration
    workers = children(unit.main.pid)
    try:
        want = pwd.getpwnam(user).pw_uid
    except KeyError:
        want = None
    uids = {pid: uid_of(pid) for pid in workers}
    if workers and want is not None and all(set(u) == {want} for u in uids.values()):
        report("PASS", "workers run as " + user, f"{len(workers)} workers")
    else:
        status, out, _ = unit.run(f"/usr/sbin/weir -c -f {config}")
        if "not applied yet" in out:
            report("PENDING", "workers run as " + user,
                   f"workers' uids {sorted(set(tuple(u) for u in uids.values()))}: "
                   "this weir parses global user/group/chroot without applying them")
        else:
            report("FAIL", "workers run as " + user, f"workers' uids {uids}, expected {want}")

    chroot_dir = None
    for line in original.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) == 2 and words[0] == "chroot" and line[0].isspace():
            chroot_dir = words[1]
    if chroot_dir:
        roots = {}
        for pid in workers:
            try:
                roots[pid] = os.readlink(f"/proc/{pid}/root")
            except OSError as e:
                roots[pid] = repr(e)
        if workers and all(r == chroot_dir for r in roots.values()):
            report("PASS", "workers chrooted to " + chroot_dir, f"{len(workers)} workers")
        else:
            status, out, _ = unit.run(f"/usr/sbin/weir -c -f {config}")
            report("PENDING" if "not applied yet" in out else "FAIL", "workers chrooted to " + chroot_dir,
                   f"workers' roots {sorted(set(roots.values()))}")

    # reload under load
    reload_lines = unit.service.get("ExecReload", [])
    if not reload_lines:
        report("FAIL", "reload", "the unit has no ExecReload")
        return 1
    new_text = original.replace('string "served by s2\\n"', 'string "served by s2, reloaded\\n"')
    if new_text == original:
        report("FAIL", "reload", "cannot find the s2 stand-in server to change in " + config)
        return 1
    with open(config, "w") as f:
        f.write(new_text)
    since = len(unit.notify.messages)
    with Load(address, r"served by s[12](, reloaded)?\n") as load:
        load.wait_requests(50)
        status = 0
        for line in reload_lines:
            status, out, argv = unit.run(line)
            print(f"     ExecReload: {' '.join(argv)} -> {status}" + (f" {out.strip()!r}" if out.strip() else ""), flush=True)
            if status != 0:
                break
        load.wait_requests(200)
    reloaded = load.bodies.get("served by s2, reloaded\n", 0)
    ok = status == 0 and load.failed == 0 and load.ok > 0
    report("PASS" if ok else "FAIL", "reload under load: exit 0, zero failed requests",
           f"exit {status}; {load.summary()}\n{'' if ok else unit.log_tail()}".rstrip())
    relo = unit.notify.wait_for("RELOADING", "1", timeout=1, since=since)
    rdy = unit.notify.wait_for("READY", "1", timeout=10, since=since)
    report("PASS" if relo and rdy else "FAIL", "reload: RELOADING=1 then READY=1",
           f"{unit.notify.messages[since:]}")
    after = [get(address) for _ in range(20)]
    report("PASS" if "served by s2, reloaded\n" in after and reloaded > 0 else "FAIL",
           "reload: the new configuration serves", f"{sorted(set(b.strip() for b in after))}")
    report("PASS" if unit.main.poll() is None else "FAIL", "reload: same main process",
           f"pid {unit.main.pid}")

    # a broken configuration
    with open(config, "w") as f:
        f.write(new_text.replace("balance roundrobin", "balance nosuchalgorithm"))
    with Load(address, r"served by s[12](, reloaded)?\n") as load:
        load.wait_requests(50)
        status = 0
        for line in reload_lines:
            status, out, argv = unit.run(line)
            print(f"     ExecReload: {' '.join(argv)} -> {status}" + (f" {out.strip()!r}" if out.strip() else ""), flush=True)
            if status != 0:
                break
        report("PASS" if status != 0 else "FAIL", "broken config: ExecReload exits non-zero", f"exit {status}")
        # The master's own check, as when the check line is left out.
        since = len(unit.notify.messages)
        status, out, argv = unit.run(reload_lines[-1])
        print(f"     {' '.join(argv)} -> {status}" + (f" {out.strip()!r}" if out.strip() else ""), flush=True)
        report("PASS" if status == 1 else "FAIL", "broken config: the master CLI reload exits 1", f"exit {status}")
        rdy = unit.notify.wait_for("READY", "1", timeout=10, since=since)
        failed_status = next((m["STATUS"] for m in unit.notify.messages[since:] if "STATUS" in m
                              and "fail" in m["STATUS"]), None)
        report("PASS" if rdy and failed_status else "FAIL", "broken config: READY=1 with a failure STATUS",
               f"STATUS={failed_status!r}")
        load.wait_requests(200)
    bodies = {get(address).strip() for _ in range(20)}
    ok = load.failed == 0 and load.ok > 0 and unit.main.poll() is None and "served by s2, reloaded" in bodies
    report("PASS" if ok else "FAIL", "broken config: the previous configuration keeps serving",
           f"{load.summary()}; now {sorted(bodies)}")

    # an upgrade: dpkg replaces /usr/sbin/weir under the running master, then
    # postinst runs "systemctl reload weir" (the ExecReload lines)
    if upgrade_deb:
        with open(config, "w") as f:
            f.write(new_text)
        with Load(address, r"served by s[12](, reloaded)?\n") as load:
            load.wait_requests(50)
            p = subprocess.run(["dpkg", "-i", upgrade_deb], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
            report("PASS" if p.returncode == 0 else "FAIL", "upgrade: dpkg -i under the running master",
                   f"exit {p.returncode}" + ("" if p.returncode == 0 else "\n" + p.stdout.decode(errors="replace")))
            before = os.readlink(f"/proc/{unit.main.pid}/exe")
            since = len(unit.notify.messages)
            status = 0
            for line in reload_lines:
                status, out, argv = unit.run(line)
                print(f"     ExecReload: {' '.join(argv)} -> {status}" + (f" {out.strip()!r}" if out.strip() else ""), flush=True)
                if status != 0:
                    break
            load.wait_requests(200)
        after = os.readlink(f"/proc/{unit.main.pid}/exe")
        rdy = unit.notify.wait_for("READY", "1", timeout=10, since=since)
        ok = (status == 0 and load.failed == 0 and unit.main.poll() is None and after == "/usr/sbin/weir"
              and rdy is not None and rdy.get("MAINPID") == str(unit.main.pid))
        report("PASS" if ok else "FAIL", "upgrade: the reload runs the new binary in the same process",
               f"exit {status}; {load.summary()}; pid {unit.main.pid} executable {before!r} -> {after!r}; "
               f"READY=1 MAINPID={rdy.get('MAINPID') if rdy else None}")

    # stop: KillMode=mixed sends SIGTERM to the main process only
    with open(config, "w") as f:
        f.write(original)
    workers = children(unit.main.pid)
    since = len(unit.notify.messages)
    unit.main.send_signal(signal.SIGTERM)
    try:
        status = unit.main.wait(timeout=30)
    except subprocess.TimeoutExpired:
        status = None
    stopping = unit.notify.wait_for("STOPPING", "1", timeout=1, since=since)
    report("PASS" if stopping else "FAIL", "stop: STOPPING=1", f"{unit.notify.messages[since:]}")
    report("PASS" if status == 0 else "FAIL", "stop: exit status 0", f"exit {status}")
    deadline = time.monotonic() + 10
    left = session_members(unit.main.pid)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = session_members(unit.main.pid)
    report("PASS" if not left else "FAIL", "stop: no process left",
           f"{len(workers)} workers before, left: {left}")
    try:
        socket.create_connection(address, timeout=1).close()
        report("FAIL", "stop: frontend closed", f"{address} still accepts")
    except OSError:
        report("PASS", "stop: frontend closed")
    return 0


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("unit-by-hand.py: run as root, as systemd runs the service")
    rc = main()
    print(f"unit: {results['PASS']} passed, {results['FAIL']} failed, {results['PENDING']} pending", flush=True)
    sys.exit(1 if rc or results["FAIL"] else 0)
