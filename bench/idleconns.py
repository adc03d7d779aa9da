#!/usr/bin/env python3
"""Holds many idle keep-alive HTTP connections open, for bench/http.sh.

    idleconns.py PORT COUNT HOST PATH [HOLD_SECONDS]

Opens COUNT connections to 127.0.0.1:PORT (at most 200 being set up at a
time), sends one request on each (GET PATH, Host: HOST, keep-alive), reads the
whole response (status 200, Content-Length), and then leaves the connection
open and idle. When every connection is done it prints

    ready OK FAILED

and waits, at most HOLD_SECONDS (default 120), for SIGTERM or SIGINT. Then it
looks, without waiting, for connections the peer has closed meanwhile, prints

    held OK closed CLOSED

and closes everything. Needs a descriptor limit above COUNT (ulimit -n).
Setting everything up is bounded to 180 s.
"""
import errno
import selectors
import signal
import socket
import sys
import time

IN_FLIGHT = 200
SETUP_LIMIT = 180.0


def main():
    port, count, host, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    hold = float(sys.argv[5]) if len(sys.argv) > 5 else 120.0
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: weir-bench\r\nAccept: */*\r\n\r\n" % (path, host)).encode()

    sel = selectors.DefaultSelector()
    idle = []
    failed = 0
    started = 0
    active = 0
    deadline = time.monotonic() + SETUP_LIMIT

    def start_one():
        nonlocal started, active, failed
        started += 1
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rc = s.connect_ex(("127.0.0.1", port))
        if rc not in (0, errno.EINPROGRESS):
            failed += 1
            s.close()
            return
        sel.register(s, selectors.EVENT_WRITE, {"state": "connect", "buf": b""})
        active += 1

    def finish(s, ok):
        nonlocal active, failed
        sel.unregister(s)
        active -= 1
        if ok:
            idle.append(s)
        else:
            failed += 1
            s.close()

    while (started < count or active > 0) and time.monotonic() < deadline:
        while started < count and active < IN_FLIGHT:
            start_one()
        for key, _ in sel.select(timeout=1.0):
            s, st = key.fileobj, key.data
            if st["state"] == "connect":
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    finish(s, False)
                    continue
                try:
                    s.send(req)
                except OSError:
                    finish(s, False)
                    continue
                st["state"] = "read"
                sel.modify(s, selectors.EVENT_READ, st)
                continue
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                finish(s, False)
                continue
            if not chunk:
                finish(s, False)
                continue
            st["buf"] += chunk
            buf = st["buf"]
            if b"\r\n\r\n" not in buf:
                continue
            head, _, body = buf.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                finish(s, False)
                continue
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(body) >= length:
                st["buf"] = b""
                finish(s, True)

    # Whatever is still being set up when the limit passes counts as failed.
    for key in list(sel.get_map().values()):
        finish(key.fileobj, False)
    print("ready %d %d" % (len(idle), failed + (count - started)), flush=True)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    end = time.monotonic() + hold
    while not stop and time.monotonic() < end:
        time.sleep(0.1)

    # A connection the proxy closed is readable (EOF) now.
    for s in idle:
        sel.register(s, selectors.EVENT_READ)
    closed = len(sel.select(timeout=0))
    print("held %d closed %d" % (len(idle) - closed, closed), flush=True)
    for s in idle:
        s.close()


if __name__ == "__main__":
    main()
