#!/usr/bin/env python3
"""Sequential HTTP/1.1 client for bench/http.sh's callgrind runs.

    httpclient.py PORT N MODE HOST PATH

Sends N requests (GET PATH, Host: HOST) to 127.0.0.1:PORT one after another
and checks every response (status 200, Content-Length body read in full).
MODE "ka": all on one keep-alive connection; "new": one connection each
(the client closes it after the response). Exits non-zero on any failure.
Bounded: N requests, a 30 s socket timeout.
"""
import socket
import sys


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def exchange(s, req, buf):
    s.sendall(req)
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("connection closed before the response headers")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit("unexpected response: %r" % head[:200])
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise SystemExit("response without Content-Length: %r" % head[:400])
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("connection closed in the body")
        rest += chunk
    return rest[length:]


def main():
    port, n, mode, host, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: weir-bench\r\nAccept: */*\r\n\r\n" % (path, host)).encode()
    if n > 0 and mode == "ka":
        s, buf = connect(port), b""
        for _ in range(n):
            buf = exchange(s, req, buf)
        s.close()
    elif mode == "new":
        for _ in range(n):
            s = connect(port)
            exchange(s, req, b"")
            s.close()
    elif n > 0:
        raise SystemExit("mode must be ka or new")


if __name__ == "__main__":
    main()
