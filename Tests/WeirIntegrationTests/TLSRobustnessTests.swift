import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// Bad and hostile TLS clients against the real binary: garbage instead of a
// ClientHello, clients that vanish mid-handshake, broken records after the
// handshake, slow clients, many handshakes at once with a worker killed,
// renegotiation, oversized ClientHellos and SNI names, close_notify and
// half-close. Hand-crafted bytes come from python3 (raw sockets, and
// `ssl.MemoryBIO` for a real handshake followed by raw bytes); each script
// is bounded in connections and time and prints one JSON line.

/// The Python side: building ClientHellos, a handshake over memory BIOs,
/// reading to the end, the worker's descriptors and RSS.
private let robustClients = #"""
import json, os, socket, ssl, struct, sys, threading, time
from concurrent.futures import ThreadPoolExecutor

def u16(n): return struct.pack(">H", n)
def ext(kind, data): return u16(kind) + u16(len(data)) + data

def client_hello(sni=None, padding=0, extra=0, record=16384):
    # A TLS 1.2 ClientHello made by hand, split into records of `record` bytes.
    exts = b""
    if sni is not None:
        entry = b"\x00" + u16(len(sni)) + sni
        exts += ext(0, u16(len(entry)) + entry)
    exts += ext(10, u16(4) + u16(23) + u16(29))            # supported_groups
    exts += ext(11, b"\x01\x00")                            # ec_point_formats
    exts += ext(13, u16(4) + u16(0x0403) + u16(0x0804))     # signature_algorithms
    for k in range(extra): exts += ext(0xf000 + k, b"12345678")
    if padding: exts += ext(21, b"\x00" * padding)
    body = b"\x03\x03" + bytes(range(32)) + b"\x00" + u16(4) + u16(0xc02b) + u16(0xc02f) + b"\x01\x00" + u16(len(exts)) + exts
    message = b"\x01" + struct.pack(">I", len(body))[1:] + body
    out = b""
    for i in range(0, len(message), record):
        fragment = message[i:i + record]
        out += b"\x16\x03\x01" + u16(len(fragment)) + fragment
    return out

def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def reset(s):
    # RST instead of FIN.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()

def read_to_end(s, limit=1 << 20):
    got = b""
    try:
        while len(got) < limit:
            chunk = s.recv(65536)
            if not chunk: return got, "eof"
            got += chunk
    except ConnectionResetError: return got, "reset"
    except socket.timeout: return got, "timeout"
    return got, "limit"

def first_reply(port, data, shut=False):
    # What the server answers raw bytes with: its ServerHello (and whether
    # its certificate names a.test), an alert, or nothing ("eof", "reset").
    s = connect(port)
    got, how = b"", "eof"
    try:
        s.sendall(data)
        if shut: s.shutdown(socket.SHUT_WR)
        while len(got) < 7 or (got[:1] == b"\x16" and b"a.test" not in got and len(got) < 65536):
            chunk = s.recv(65536)
            if not chunk: break
            got += chunk
    except ConnectionResetError: how = "reset"
    finally: s.close()
    if got[:1] == b"\x16" and len(got) > 5 and got[5] == 2:
        return "serverhello a.test" if b"a.test" in got else "serverhello"
    if got[:1] == b"\x15" and len(got) >= 7: return "alert %d" % got[6]
    return how

def context(version=None):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    if version == "1.2": c.maximum_version = ssl.TLSVersion.TLSv1_2
    if version == "1.3": c.minimum_version = ssl.TLSVersion.TLSv1_3
    return c

class RawTLS:
    # A client whose handshake runs through memory BIOs over a plain
    # socket: after it, the test writes raw bytes (a bad MAC, a truncated
    # record) where a normal client could not.
    def __init__(self, port, version=None, sni="a.test"):
        self.inbox, self.outbox = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context(version).wrap_bio(self.inbox, self.outbox, server_hostname=sni)
        self.sock = connect(port)
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.sock.sendall(self.outbox.read())
                data = self.sock.recv(65536)
                if not data: raise Exception("closed during the handshake")
                self.inbox.write(data)
        self.sock.sendall(self.outbox.read())

    def send(self, data):
        self.tls.write(data)
        self.sock.sendall(self.outbox.read())

    def receive(self, count):
        # `count` plaintext bytes (fewer if the server closes first).
        plain = b""
        while len(plain) < count:
            try:
                plain += self.tls.read(count - len(plain))
            except ssl.SSLWantReadError:
                data = self.sock.recv(65536)
                if not data: break
                self.inbox.write(data)
        return plain

    def close_notify(self):
        try: self.tls.unwrap()
        except ssl.SSLWantReadError: pass
        self.sock.sendall(self.outbox.read())

    def replies(self):
        # Everything the server sends until it closes, decrypted; how it closed.
        raw, how = read_to_end(self.sock)
        self.sock.close()
        self.inbox.write(raw)
        plain = b""
        try:
            while True:
                chunk = self.tls.read(65536)
                if not chunk: break
                plain += chunk
        except ssl.SSLError as e:
            how += " " + (e.reason or type(e).__name__)
        return plain, how

def https_get(port, version=None, session=None, ctx=None, request=b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"):
    s = (ctx or context(version)).wrap_socket(connect(port), server_hostname="a.test", session=session)
    s.sendall(request)
    got, how = read_to_end(s)
    result = {"ok": got.startswith(b"HTTP/1.1 200"), "reused": s.session_reused, "session": s.session}
    s.close()
    return result

def fd_count(pid): return len(os.listdir("/proc/%d/fd" % pid))

def rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"): return int(line.split()[1])

def settle(predicate, seconds=10):
    # Polls a condition the server reaches on its own (closing descriptors).
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline: time.sleep(0.02)
    return predicate()

def hold_cache_locks(holder, owner):
    # Writes `owner` into every bucket lock of the TLS session cache in the
    # shared memory (`SessionCache`'s layout) that process `holder` keeps
    # open; returns a function reading the lock words back.
    import mmap
    for n in os.listdir("/proc/%d/fd" % holder):
        if os.readlink("/proc/%d/fd/%s" % (holder, n)).startswith("/memfd:weir-shared"):
            memory = mmap.mmap(os.open("/proc/%d/fd/%s" % (holder, n), os.O_RDWR), 0)
    offset, size = struct.unpack_from("<qq", memory, 14 * 8)
    stride = (64 + 8 * (64 + 1536) + 63) & ~63
    words = [offset + 64 + b * stride for b in range(max(1, (size + 7) // 8))]
    for at in words: struct.pack_into("<q", memory, at, owner)
    return lambda: [struct.unpack_from("<q", memory, at)[0] for at in words]

def emit(value): print(json.dumps(value))

"""#

/// Runs `script` after `robustClients` with `arguments`; its last stdout line as JSON.
private func robustPython(_ script: String, _ arguments: [String], timeout: Double = 120) throws -> [String: Any] {
    let python = try #require(pythonPath, "python3 is not installed (.ci/run installs it)")
    let run = try runTool(python, ["-c", robustClients + script] + arguments, timeout: timeout)
    guard let last = run.stdout.split(separator: "\n").last,
          let object = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any] else {
        throw WeirProcess.SpawnFailure(description: "python exited \(run.status):\n\(run.stdout)\n\(run.stderr)")
    }
    return object
}

/// A `-d` weir serving `a.test`: `fe` (`mode http`, answering itself or
/// sending to `httpBackend`) on a plain TLS bind and a `strict-sni` one with
/// `strictOptions`, and `ft` (`mode tcp`) terminating TLS in front of `echo`.
private final class RobustScenario: @unchecked Sendable {
    let pki: TestPKI
    let a: TestCertificate
    let echo: Backend
    let weir: WeirProcess

    init(defaults: [String] = [], httpBackend: HTTPBackend? = nil, strictOptions: String = "") throws {
        pki = try TestPKI()
        do {
            a = try pki.aTest()
            echo = try Backend(.echo)
        } catch {
            pki.remove()
            throw error
        }
        let answer = httpBackend.map { "    default_backend be\nbackend be\n    server s1 \($0.address)" } ?? "    " + answerWorkerPID
        do {
            weir = try WeirProcess.start(config: tlsTestConfig(log: .frontendFormats, defaults: defaults, """
                frontend fe
                    option httplog
                    bind 127.0.0.1:0 ssl crt \(a.pem)
                    bind 127.0.0.1:0 ssl crt \(a.pem) strict-sni \(strictOptions)
                \(answer)
                frontend ft
                    mode tcp
                    option tcplog
                    bind 127.0.0.1:0 ssl crt \(a.pem)
                    default_backend echo
                backend echo
                    mode tcp
                    server s1 \(echo.address)
                """))
        } catch {
            echo.stop()
            pki.remove()
            throw error
        }
    }

    func stop() {
        weir.stop()
        echo.stop()
        pki.remove()
    }
}

/// The process is still running (not exited, not a zombie).
private func alive(_ weir: WeirProcess) -> Bool { weir.waitForExit(timeout: 0) == nil && processIsAlive(weir.pid) }

@Suite("TLS termination against bad and hostile clients", .serialized, .enabled(if: hasCurl && hasOpenSSL))
struct TLSRobustnessTests {
    @Test("garbage instead of a ClientHello: closed, logged as a handshake failure; the worker serves a client already connected")
    func garbageInsteadOfClientHello() throws {
        let s = try RobustScenario()
        defer { s.stop() }
        let weir = s.weir
        let port = try weir.port(of: "fe")
        let result = try robustPython(#"""
            port = int(sys.argv[1])
            # A keep-alive client in the middle of its session.
            other = context().wrap_socket(connect(port), server_hostname="a.test")
            other.sendall(b"GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n")
            first = other.recv(4096)
            cases = {
                "http": (b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", False),
                "junk": (bytes((i * 37 + 66) % 256 for i in range(300)), False),
                "announces16k": (b"\x16\x03\x01\x40\x00", True),
                "oversized": (b"\x16\x03\x01\xff\xff" + bytes(200), False),
            }
            out = {name: first_reply(port, data, shut) for name, (data, shut) in cases.items()}
            other.sendall(b"GET /2 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
            second, how = read_to_end(other)
            out["other"] = [first.startswith(b"HTTP/1.1 200"), second.startswith(b"HTTP/1.1 200")]
            emit(out)
            """#, [String(port)])
        #expect(result["http"] as? String == "alert 70" || result["http"] as? String == "eof", "\(result)")
        for name in ["junk", "announces16k", "oversized"] {
            let outcome = result[name] as? String ?? "?"
            #expect(outcome.hasPrefix("alert") || outcome == "eof" || outcome == "reset", "\(name): \(outcome)")
        }
        #expect(result["other"] as? [Bool] == [true, true], "\(result)")
        let expected = ["fe/1: SSL handshake failure (http request)", "fe/1: SSL handshake failure (wrong version number)",
                        "fe/1: Connection closed during SSL handshake", "fe/1: SSL handshake failure (packet length too long)"]
        for line in expected {
            #expect(weir.stdout.waitForLine { $0.contains(line) } != nil, "no '\(line)':\n\(weir.stdout.text)")
        }
        #expect(try curlHTTPS(port: port, ca: s.a.cert).status == 200)
        #expect(alive(weir))
    }

    @Test("clients vanishing at every point of the handshake, 200 per round: descriptors back to the baseline, RSS flat, all later requests served")
    func vanishingClients() throws {
        let s = try RobustScenario(defaults: ["timeout client-hs 5s"])
        defer { s.stop() }
        let weir = s.weir
        let port = try weir.port(of: "fe")
        let result = try robustPython(#"""
            port, pid = int(sys.argv[1]), int(sys.argv[2])
            def vanish(k):
                version = "1.2" if k % 2 else None
                inbox, outbox = ssl.MemoryBIO(), ssl.MemoryBIO()
                tls = context(version).wrap_bio(inbox, outbox, server_hostname="a.test")
                try: tls.do_handshake()
                except ssl.SSLWantReadError: pass
                hello = outbox.read()
                s = connect(port)
                point = k % 8
                if point == 0: s.sendall(hello[:len(hello) // 2]); return reset(s)
                if point == 1: s.sendall(hello[:len(hello) // 2]); return s.close()
                s.sendall(hello)
                if point == 2: return reset(s)
                if point == 3: return s.close()
                flight = s.recv(65536)
                if point == 4: return reset(s)
                if point == 5:
                    s.shutdown(socket.SHUT_WR)
                    read_to_end(s)
                    return s.close()
                inbox.write(flight)
                try: tls.do_handshake()
                except ssl.SSLError: pass
                finished = outbox.read()
                if point == 6: s.sendall(finished[:max(1, len(finished) // 2)]); return reset(s)
                s.sendall(finished)
                reset(s)
            https_get(port)
            baseline = fd_count(pid)
            rounds = []
            for r in range(2):
                for k in range(200): vanish(k)
                settled = settle(lambda: fd_count(pid) <= baseline)
                rounds.append({"fds": fd_count(pid), "rss": rss_kb(pid), "settled": settled,
                               "served": sum(https_get(port)["ok"] for _ in range(20))})
            emit({"baseline": baseline, "rounds": rounds})
            """#, [String(port), String(weir.pid)])
        let baseline = try #require(result["baseline"] as? Int)
        let rounds = try #require(result["rounds"] as? [[String: Any]])
        try #require(rounds.count == 2)
        for round in rounds {
            // At most the baseline: the baseline may still count the probe's own connection.
            #expect(round["settled"] as? Bool == true && (round["fds"] as? Int ?? .max) <= baseline, "\(result)")
            #expect(round["served"] as? Int == 20, "\(result)")
        }
        let first = try #require(rounds[0]["rss"] as? Int), second = try #require(rounds[1]["rss"] as? Int)
        // Kilobytes: the second round may not grow the process by more than 4 MiB over the first.
        #expect(second - first < 4096, "RSS grew from \(first) kB to \(second) kB")
        // Every vanishing before the handshake's end is logged (points 0 to 6, 25 each per round).
        let logged = { weir.stdout.lines.filter { $0.contains("fe/1: Connection closed during SSL handshake")
            || $0.contains("fe/1: SSL handshake failure") }.count }
        #expect(waitUntil(timeout: 10) { logged() >= 2 * 7 * 25 }, "\(logged()) lines:\n\(weir.stdout.lines.suffix(20))")
        #expect(alive(weir))
    }

    @Test("a truncated record, a bad MAC, a plaintext alert or junk after the handshake, mid-request: closed, logged CR, no crash")
    func brokenRecordsAfterHandshake() throws {
        let s = try RobustScenario()
        defer { s.stop() }
        let weir = s.weir
        let port = try weir.port(of: "fe")
        let tcpPort = try weir.port(of: "ft")
        let result = try robustPython(#"""
            port, tcp_port = int(sys.argv[1]), int(sys.argv[2])
            out = {}
            for version in ("1.2", "1.3"):
                for case in ("badmac", "truncated", "plainalert", "junktype", "finmidrequest", "rstmidrequest"):
                    c = RawTLS(port, version)
                    c.send(b"GET / HTTP/1.1\r\nHost: a.test\r\n")
                    if case == "badmac": c.sock.sendall(b"\x17\x03\x03\x00\x40" + bytes(64))
                    if case == "truncated": c.sock.sendall(b"\x17\x03\x03\x00\x64" + bytes(10)); c.sock.shutdown(socket.SHUT_WR)
                    if case == "plainalert": c.sock.sendall(b"\x15\x03\x03\x00\x02\x02\x28")
                    if case == "junktype": c.sock.sendall(b"\x42\x03\x03\x00\x05hello")
                    if case == "finmidrequest": c.sock.shutdown(socket.SHUT_WR)
                    if case == "rstmidrequest":
                        reset(c.sock)
                        continue
                    plain, how = c.replies()
                    out[version + " " + case] = [len(plain), how.split(" ")[0]]
                # mode tcp: a bad MAC after echoed bytes.
                c = RawTLS(tcp_port, version)
                c.send(b"ping")
                out[version + " echoed"] = c.receive(4).decode()
                c.sock.sendall(b"\x17\x03\x03\x00\x40" + bytes(64))
                plain, how = c.replies()
                out[version + " tcp"] = [len(plain), how.split(" ")[0]]
            out["after"] = https_get(port)["ok"]
            emit(out)
            """#, [String(port), String(tcpPort)])
        for version in ["1.2", "1.3"] {
            for name in ["badmac", "truncated", "plainalert", "junktype", "finmidrequest"] {
                let outcome = try #require(result["\(version) \(name)"] as? [Any], "\(result)")
                // Nothing answered, and the connection closed (not left hanging).
                #expect(outcome.first as? Int == 0, "\(version) \(name): \(outcome)")
                #expect(["eof", "reset"].contains(outcome.last as? String ?? ""), "\(version) \(name): \(outcome)")
            }
            let tcp = try #require(result["\(version) tcp"] as? [Any], "\(result)")
            #expect(result["\(version) echoed"] as? String == "ping", "\(result)")
            #expect(["eof", "reset"].contains(tcp.last as? String ?? ""), "\(tcp)")
        }
        #expect(result["after"] as? Bool == true)
        // HAProxy's termination state: the client (C) aborted while the request (R) was read.
        let aborted = { weir.stdout.lines.filter { $0.contains(" fe~ ") && $0.contains(" CR-- ") && $0.contains("\"<BADREQ>\"") }.count }
        #expect(waitUntil(timeout: 10) { aborted() == 12 }, "\(aborted()):\n\(weir.stdout.text)")
        let tcpAborts = { weir.stdout.lines.filter { $0.contains(" ft~ echo/s1 ") && $0.contains(" CD ") }.count }
        #expect(waitUntil(timeout: 10) { tcpAborts() == 2 }, "\(weir.stdout.text)")
        #expect(alive(weir))
    }

    @Test("50 clients sending their ClientHello a byte at a time are cut by timeout client-hs; a normal client meanwhile gets 100 answers")
    func slowClients() throws {
        let s = try RobustScenario(defaults: ["timeout client-hs 1s"])
        defer { s.stop() }
        let weir = s.weir
        let port = try weir.port(of: "fe")
        let result = try robustPython(#"""
            port = int(sys.argv[1])
            hello = client_hello(b"a.test", padding=1000)
            slow = [connect(port) for _ in range(50)]
            sent, closed = [0] * 50, [False] * 50
            for s in slow: s.setblocking(False)
            done = threading.Event()
            def drip():
                deadline = time.monotonic() + 30
                while not done.is_set() and not all(closed) and time.monotonic() < deadline:
                    for k, s in enumerate(slow):
                        if closed[k]: continue
                        try:
                            if sent[k] < len(hello):
                                s.send(hello[sent[k]:sent[k] + 1])
                                sent[k] += 1
                            if s.recv(100) == b"": closed[k] = True
                        except BlockingIOError: pass
                        except OSError: closed[k] = True
                    time.sleep(0.02)
            dripper = threading.Thread(target=drip)
            dripper.start()
            served = sum(https_get(port)["ok"] for _ in range(100))
            dripper.join()
            done.set()
            emit({"served": served, "closed": sum(closed), "longest": max(sent), "hello": len(hello)})
            """#, [String(port)])
        #expect(result["served"] as? Int == 100, "\(result)")
        #expect(result["closed"] as? Int == 50, "\(result)")
        // Cut before their ClientHello was whole.
        #expect((result["longest"] as? Int ?? .max) < (result["hello"] as? Int ?? 0), "\(result)")
        let timeouts = { weir.stdout.lines.filter { $0.contains("fe/1: Timeout during SSL handshake") }.count }
        #expect(waitUntil(timeout: 10) { timeouts() == 50 }, "\(timeouts())")
        #expect(alive(weir))
    }

    @Test("400 concurrent handshakes on 4 workers with resumption mixed in; a worker killed mid-load is replaced, and a cache lock it left is taken over")
    func concurrentHandshakesAndAKilledWorker() throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let a = try pki.aTest()
        let h = try MasterHarness(config: tlsTestConfig(global: ["nbthread 4"], defaults: ["timeout client-hs 5s"], """
            frontend fe
                bind 127.0.0.1:0 ssl crt \(a.pem)
                bind 127.0.0.1:0 ssl crt \(a.pem) no-tls-tickets
                \(answerWorkerPID)
            """))
        defer { h.close() }
        #expect(h.master.waitForCount(of: ") ready", atLeast: 4))
        let tickets = try h.master.port(of: "fe", index: 0)
        let cache = try h.master.port(of: "fe", index: 1)
        // Every third connection is a full handshake; the others offer the
        // last session of their bind and version: tickets on the first bind,
        // the shared cache on the second (TLS 1.2 IDs, TLS 1.3 stateful tickets).
        let load = #"""
            ports, count, victim, master = [int(p) for p in sys.argv[1:3]], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
            contexts = {v: context(v) for v in ("1.2", "1.3")}
            sessions, lock, out = {}, threading.Lock(), {"ok": 0, "failed": [], "offered": 0, "reused": 0}
            def one(k):
                port, version = ports[k % 2], ("1.2", "1.3")[(k // 2) % 2]
                with lock: session = sessions.get((port, version)) if k % 3 else None
                try:
                    r = https_get(port, ctx=contexts[version], session=session)
                except Exception as e:
                    with lock: out["failed"].append("%d %s: %r" % (port, version, e))
                    return
                with lock:
                    out["ok"] += r["ok"]
                    if not r["ok"]: out["failed"].append("%d %s: no 200" % (port, version))
                    if session is not None:
                        out["offered"] += 1
                        out["reused"] += r["reused"]
                    sessions[(port, version)] = r["session"]
            # The killed worker, as if it died holding every lock of the session cache.
            locks = hold_cache_locks(master, victim) if master else None
            with ThreadPoolExecutor(16) as pool:
                futures = []
                for k in range(count):
                    futures.append(pool.submit(one, k))
                    if victim and not master and k == count // 3: os.kill(victim, 9)
                for f in futures: f.result()
            if locks:
                out["locks"] = len(locks())
                out["stillHeld"] = sum(owner == victim for owner in locks())
            emit(out)
            """#
        let ports = [String(tickets), String(cache)]
        // 1. Calm: every handshake succeeds and every offered session resumes.
        let calm = try robustPython(load, ports + ["400", "0", "0"])
        #expect(calm["ok"] as? Int == 400, "\(calm)")
        #expect((calm["offered"] as? Int ?? 0) > 200 && calm["reused"] as? Int == calm["offered"] as? Int, "\(calm)")

        // 2. Worker 1 killed a third of the way in: only connections it held
        // at that moment (at most one per client thread) may fail.
        let victim = try #require(h.master.readyLines.first { $0.slot == 1 }?.pid)
        let killed = try robustPython(load, ports + ["400", String(victim), "0"])
        let failed = killed["failed"] as? [String] ?? []
        #expect(failed.count <= 16 && (killed["ok"] as? Int ?? 0) + failed.count == 400, "\(killed)")
        #expect(h.master.stderr.waitForLine { $0.contains("worker 1 (pid \(victim)) exited: killed by signal 9") } != nil, "\(h.output)")
        let replaced = h.master.stderr.waitForLine { line in
            WorkerReadyLine(line).map { $0.slot == 1 && $0.pid != victim } ?? false
        }
        #expect(replaced != nil, "\(h.output)")

        // 3. The dead worker "holds" every cache lock: the others take them
        // over, and resumption through the cache still works.
        let recovered = try robustPython(load, ports + ["200", String(victim), String(h.pid)])
        #expect(recovered["ok"] as? Int == 200, "\(recovered)")
        #expect((recovered["offered"] as? Int ?? 0) > 100 && recovered["reused"] as? Int == recovered["offered"] as? Int,
                "\(recovered)")
        // The buckets those handshakes used were taken over (the others still name the dead worker).
        #expect((recovered["stillHeld"] as? Int ?? .max) < (recovered["locks"] as? Int ?? 0), "\(recovered)")
        let crashes = h.master.stderr.lines.filter { $0.contains("exited") && !$0.contains("(pid \(victim))") }
        #expect(crashes.isEmpty, "\(h.output)")
        #expect(!h.master.stdout.text.contains("decryption failed") && !h.master.stderr.text.contains("decryption failed"))
    }

    @Test("cache locks left by a dead process whose PID the worker now has: taken over, not waited on for ever")
    func cacheLocksNamingTheWorkerItself() throws {
        let s = try RobustScenario(strictOptions: "no-tls-tickets")
        defer { s.stop() }
        let weir = s.weir
        // In `-d` mode the process holds its shared memory itself. Without
        // tickets, each TLS 1.2 handshake stores its session in the cache;
        // before, the first one spun for ever on a lock naming the process's own PID.
        let result = try robustPython(#"""
            port, pid = int(sys.argv[1]), int(sys.argv[2])
            locks = hold_cache_locks(pid, pid)
            served = sum(https_get(port, version="1.2")["ok"] for _ in range(20))
            emit({"served": served, "taken": sum(owner != pid for owner in locks())})
            """#, [String(try weir.port(of: "fe", index: 1)), String(weir.pid)], timeout: 60)
        #expect(result["served"] as? Int == 20, "\(result)")
        #expect((result["taken"] as? Int ?? 0) > 0, "\(result)")
        #expect(alive(weir))
    }

    @Test("a TLS 1.2 renegotiation attempt is refused (no_renegotiation); the client's abort is logged; the worker serves on")
    func renegotiationRefused() throws {
        let s = try RobustScenario()
        defer { s.stop() }
        let weir = s.weir
        // s_client reads its commands only once the handshake is done: `R` renegotiates.
        let commands = try s.pki.write("R\n", to: "renegotiate")
        for frontend in ["fe", "ft"] {
            let port = try weir.port(of: frontend)
            let run = try sClient(port: port, serverName: "a.test", extra: ["-tls1_2"], input: commands)
            #expect(run.output.contains("RENEGOTIATING") && run.output.contains("no renegotiation"), "\(frontend): \(run.output)")
        }
        // mode tcp logs every session: the client (C) gave up after the refusal (while the
        // server connection was still being made, or after).
        let aborted = weir.stdout.waitForLine { line in
            TCPLogLine(line).map { $0.frontend == "ft~" && $0.termination.hasPrefix("C") } ?? false
        }
        #expect(aborted != nil, "\(weir.stdout.text)")
        #expect(try curlHTTPS(port: try weir.port(of: "fe"), ca: s.a.cert).status == 200)
        #expect(alive(weir))
    }

    @Test("oversized ClientHellos (16 to 60 KiB, 1000 extensions, 1-byte records) and odd SNI names: default certificate or refusal per strict-sni")
    func hugeClientHellosAndOddNames() throws {
        let s = try RobustScenario()
        defer { s.stop() }
        let weir = s.weir
        let plain = try weir.port(of: "fe", index: 0)
        let strict = try weir.port(of: "fe", index: 1)
        let result = try robustPython(#"""
            hellos = {
                "a.test": client_hello(b"a.test"),
                "no SNI": client_hello(),
                "padded 16k": client_hello(b"a.test", padding=16000),
                "padded 60k": client_hello(b"a.test", padding=60000),
                "1000 extensions": client_hello(b"a.test", extra=1000),
                "1-byte records": client_hello(b"a.test", record=1),
                "upper case": client_hello(b"A.TEST"),
                "255 bytes": client_hello(b"a" * 255),
                "300 bytes": client_hello(b"b" * 300),
                "1000 bytes": client_hello(b"c." * 500),
                "NUL and controls": client_hello(b"a.te\x00st\xff\n/.."),
                "empty": client_hello(b""),
                "UTF-8": client_hello("\u00e9.test".encode()),
            }
            emit({str(port): {name: first_reply(port, hello) for name, hello in hellos.items()} for port in map(int, sys.argv[1:3])})
            """#, [String(plain), String(strict)])
        let served = "serverhello a.test", refused = "alert 112"
        // OpenSSL itself refuses a name over 255 bytes or with a NUL, strict-sni or not.
        let expected: [(String, String, String)] = [
            ("a.test", served, served), ("no SNI", served, refused), ("padded 16k", served, served),
            ("padded 60k", served, served), ("1000 extensions", served, served), ("1-byte records", served, served),
            ("upper case", served, served), ("255 bytes", served, refused), ("300 bytes", refused, refused),
            ("1000 bytes", refused, refused), ("NUL and controls", refused, refused), ("empty", served, refused),
            ("UTF-8", served, refused),
        ]
        let plainResults = try #require(result[String(plain)] as? [String: String], "\(result)")
        let strictResults = try #require(result[String(strict)] as? [String: String], "\(result)")
        for (name, onPlain, onStrict) in expected {
            #expect(plainResults[name] == onPlain, "\(name) without strict-sni: \(plainResults[name] ?? "?")")
            #expect(strictResults[name] == onStrict, "\(name) with strict-sni: \(strictResults[name] ?? "?")")
        }
        let refusals = { weir.stdout.lines.filter { $0.contains(": SSL handshake failure (") }.count }
        #expect(waitUntil(timeout: 10) { refusals() == 3 + 7 }, "\(weir.stdout.text)")
        #expect(try curlHTTPS(port: strict, ca: s.a.cert).status == 200)
        #expect(alive(weir))
    }

    @Test("close_notify then more bytes, or a half-close, after a request: the answer still arrives (mode http and mode tcp)")
    func closeNotifyAndHalfClose() throws {
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let s = try RobustScenario(httpBackend: backend)
        defer { s.stop() }
        let weir = s.weir
        let result = try robustPython(#"""
            http, tcp = int(sys.argv[1]), int(sys.argv[2])
            out = {}
            for version in ("1.2", "1.3"):
                for how in ("close_notify", "half-close"):
                    for port, message in ((http, b"GET /%s HTTP/1.1\r\nHost: a.test\r\n\r\n" % how.encode()), (tcp, b"ping")):
                        c = RawTLS(port, version)
                        c.send(message)
                        if how == "close_notify":
                            c.close_notify()
                            c.sock.sendall(b"\x17\x03\x03\x00\x20" + bytes(32))
                        else:
                            c.sock.shutdown(socket.SHUT_WR)
                        plain, closed = c.replies()
                        out["%s %s %s" % (version, how, "http" if port == http else "tcp")] = plain.decode("latin1")
            emit(out)
            """#, [String(try weir.port(of: "fe")), String(try weir.port(of: "ft"))])
        for version in ["1.2", "1.3"] {
            for how in ["close_notify", "half-close"] {
                let http = result["\(version) \(how) http"] as? String ?? ""
                #expect(http.hasPrefix("HTTP/1.1 200") && http.contains("s1 GET /\(how)"), "\(version) \(how): \(http)")
                #expect(result["\(version) \(how) tcp"] as? String == "ping", "\(result)")
            }
        }
        let served = { weir.stdout.lines.filter { $0.contains(" fe~ be/s1 ") && $0.contains(" 200 ") }.count }
        #expect(waitUntil(timeout: 10) { served() == 4 }, "\(weir.stdout.text)")
        #expect(alive(weir))
    }
}
