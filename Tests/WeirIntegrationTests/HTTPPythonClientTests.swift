import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Debian's `/usr/bin/python3` when it exists, else the first `python3` on `PATH`.
let pythonPath: String? = {
    if FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") { return "/usr/bin/python3" }
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let candidate = "\(directory)/python3"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}()

/// Whether `python3 -c 'import <module>'` succeeds.
func pythonHas(_ module: String) -> Bool {
    guard let python = pythonPath else { return false }
    return (try? runTool(python, ["-c", "import \(module)"]).status) == 0
}

/// Whether these tests run: with python3 and `requests`, or always under CI
/// (`CI=true`), where `.ci/run` installs them, so a missing one fails loudly.
let pythonClientsEnabled: Bool = ProcessInfo.processInfo.environment["CI"] == "true" || pythonHas("requests")

/// What a client script prints: one JSON object on its standard output.
struct PythonResult: Decodable, Sendable {
    struct Response: Decodable, Sendable {
        var status: Int
        var version: Int?
        var body: String?
        var length: Int?
        var matches: Bool?
        var server: String?
        var willClose: Bool?
    }

    var responses: [Response]
    /// Connections the client opened (urllib3's pool count; 1 per `http.client` connection).
    var connections: Int?
    /// The first bytes that arrived before the body was sent (Expect: 100-continue).
    var interim: String?
    /// Whether the server closed the connection after the last response.
    var closedByServer: Bool?
}

/// Helpers every script starts with: the test pattern (`HTTPPattern`, written
/// again from its definition) and a JSON printer.
private let pythonPrelude = #"""
import json, sys

def pattern_block():
    state = 0x12345678
    out = bytearray(65521)
    for i in range(65521):
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        out[i] = state >> 24
    return bytes(out)

BLOCK = pattern_block()

def pattern(count):
    whole, rest = divmod(count, len(BLOCK))
    return BLOCK * whole + BLOCK[:rest]

def emit(result):
    sys.stdout.write(json.dumps(result))

"""#

/// Runs `script` (after the prelude) with `arguments`; fails the test with its
/// output unless it exits 0 and prints one JSON object.
func runPython(_ script: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> PythonResult {
    let python = try #require(pythonPath, "python3 is not installed (.ci/run installs python3 and python3-requests)",
                              sourceLocation: sourceLocation)
    let run = try runTool(python, ["-c", pythonPrelude + script] + arguments, timeout: 120)
    try #require(run.status == 0, "python3 exited \(run.status)\nstdout:\n\(run.stdout)\nstderr:\n\(run.stderr)",
                 sourceLocation: sourceLocation)
    do {
        return try JSONDecoder().decode(PythonResult.self, from: Data(run.stdout.utf8))
    } catch {
        Issue.record("unreadable output from python3: \(error)\nstdout:\n\(run.stdout)\nstderr:\n\(run.stderr)",
                     sourceLocation: sourceLocation)
        throw error
    }
}

/// Real Python clients (`requests`, `http.client`) through `mode http`, with
/// two real backends behind `balance roundrobin`.
@Suite("HTTP with Python clients", .enabled(if: pythonClientsEnabled, "python3 with requests is not installed"))
struct HTTPPythonClientTests {
    private func scenario(_ handler: HTTPBackend.Handler? = nil) throws -> HTTPScenario {
        let backends = try ["s1", "s2"].map { try HTTPBackend(name: $0, handler: handler) }
        return try HTTPScenario(backends: backends, backend: "    balance roundrobin")
    }

    @Test("requests.Session: 40 GETs on one kept-alive client connection, one server connection per server")
    func requestsSessionKeepAlive() throws {
        let s = try scenario()
        defer { s.close() }
        let result = try runPython(#"""
            import requests
            base, count = sys.argv[1], int(sys.argv[2])
            session = requests.Session()
            responses = []
            for i in range(count):
                r = session.get(f"{base}/item/{i}", headers={"X-Seq": str(i)}, timeout=30)
                responses.append({"status": r.status_code, "body": r.text, "server": r.headers.get("x-served-by")})
            pool = session.get_adapter(base).poolmanager.connection_from_url(base)
            emit({"responses": responses, "connections": pool.num_connections})
            """#, ["http://127.0.0.1:\(s.port)", "40"])

        #expect(result.responses.count == 40)
        for (i, r) in result.responses.enumerated() {
            #expect(r.status == 200 && r.body == "\(r.server ?? "?") GET /item/\(i)\n", "response \(i): \(r)")
        }
        #expect(result.connections == 1, "requests opened \(result.connections ?? -1) connections")
        let servers = result.responses.compactMap(\.server)
        #expect(servers.filter { $0 == "s1" }.count == 20 && servers.filter { $0 == "s2" }.count == 20, "\(servers)")

        // Weir's side of the story: 40 log lines, all from one client port.
        #expect(waitUntil(timeout: 10) { s.logLines.count >= 40 }, "stdout:\n\(s.weir.stdout.text)")
        let ports = Set(s.logLines.map(\.clientPort))
        #expect(ports.count == 1, "client ports in the log: \(ports)")
        // Each server received its 20 requests on a connection weir kept alive.
        for b in s.backends {
            #expect(b.requests.count == 20, "\(b.name): \(b.requests.count) requests")
            #expect(b.requests.allSatisfy { $0.headers.value("user-agent")?.hasPrefix("python-requests/") == true })
            #expect(b.accepted == 1, "\(b.name) saw \(b.accepted) connections for 20 requests")
        }
        #expect(s.backends.allSatisfy { $0.errors.isEmpty }, "\(s.backends.map(\.errors))")
    }

    @Test("requests: a 3 MiB chunked response, streamed with iter_content, arrives byte for byte")
    func requestsChunkedDownload() throws {
        let size = 3 << 20
        let s = try scenario { _ in
            .response(status: 200, headers: [HTTPHeaderField(name: "content-type", value: "application/octet-stream")],
                      body: .pattern(size), framing: .chunked(chunkSize: 10_007, trailers: []))
        }
        defer { s.close() }
        let result = try runPython(#"""
            import requests
            base, size = sys.argv[1], int(sys.argv[2])
            with requests.Session() as session:
                r = session.get(f"{base}/download", stream=True, timeout=60)
                data = bytearray()
                for piece in r.iter_content(chunk_size=65536):
                    data += piece
                chunked = r.headers.get("transfer-encoding", "").lower() == "chunked"
                emit({"responses": [{"status": r.status_code, "length": len(data), "matches": bytes(data) == pattern(size),
                                     "body": "chunked" if chunked else r.headers.get("content-length", "")}]})
            """#, ["http://127.0.0.1:\(s.port)", "\(size)"])
        let r = try #require(result.responses.first)
        #expect(r.status == 200 && r.length == size && r.matches == true, "\(r)")
        #expect(r.body == "chunked", "the response reached the client framed as \(r.body ?? "?")")
    }

    @Test("http.client: a 4 MiB chunked upload (encode_chunked=True) reaches the server whole")
    func httpClientChunkedUpload() throws {
        let size = (4 << 20) + 12_345
        let s = try scenario { request in
            .text(200, "\(request.body.count) \(String(request.body.checksum.value, radix: 16))\n")
        }
        defer { s.close() }
        let result = try runPython(#"""
            import http.client
            port, size = int(sys.argv[1]), int(sys.argv[2])
            body = pattern(size)

            def chunks():
                # Uneven pieces, each one chunk on the wire: tiny, odd, larger than a buffer.
                sizes = [1, 7, 4096, 65536, 100003, 3, 16384]
                offset, i = 0, 0
                while offset < len(body):
                    n = sizes[i % len(sizes)]
                    yield body[offset:offset + n]
                    offset += n
                    i += 1

            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", "/upload", body=chunks(), encode_chunked=True,
                         headers={"Content-Type": "application/octet-stream"})
            r = conn.getresponse()
            text = r.read().decode()
            conn.close()
            emit({"responses": [{"status": r.status, "body": text}], "connections": 1})
            """#, ["\(s.port)", "\(size)"])
        let expected = HTTPPattern.checksum(size)
        let r = try #require(result.responses.first)
        #expect(r.status == 200 && r.body == "\(size) \(String(expected.value, radix: 16))\n", "\(r)")
        let seen = try #require(s.backends.flatMap(\.requests).first)
        #expect(seen.method == "POST" && seen.target == "/upload")
        #expect(seen.body.count == size && seen.body.checksum == expected, "the server received \(seen.body)")
        #expect(seen.body.chunked, "the upload reached the server without chunked framing: \(seen.headers)")
        #expect(s.backends.allSatisfy { $0.errors.isEmpty }, "\(s.backends.map(\.errors))")
    }

    @Test("http.client speaking HTTP/1.0: answered, then the connection is closed")
    func httpClientHTTP10() throws {
        let s = try scenario()
        defer { s.close() }
        let result = try runPython(#"""
            import http.client

            class HTTP10Connection(http.client.HTTPConnection):
                _http_vsn = 10
                _http_vsn_str = "HTTP/1.0"

            port = int(sys.argv[1])
            conn = HTTP10Connection("127.0.0.1", port, timeout=30)
            conn.connect()
            # A second descriptor for the same socket: it stays open when
            # http.client closes its own, and reads weir's FIN (EOF).
            probe = conn.sock.dup()
            conn.request("GET", "/old")
            r = conn.getresponse()
            text = r.read().decode()
            will_close = r.will_close
            conn.close()
            probe.settimeout(30)
            closed = probe.recv(1) == b""
            probe.close()
            emit({"responses": [{"status": r.status, "version": r.version, "body": text, "willClose": will_close}],
                  "closedByServer": closed})
            """#, ["\(s.port)"])
        let r = try #require(result.responses.first)
        #expect(r.status == 200 && r.body == "s1 GET /old\n", "\(r)")
        #expect(r.willClose == true, "the response to an HTTP/1.0 request without keep-alive must close: \(r)")
        #expect(result.closedByServer == true)
        let seen = try #require(s.backends[0].requests.first)
        #expect(seen.target == "/old")
    }

    @Test("http.client with Expect: 100-continue: the interim response comes before the body is sent")
    func httpClientExpectContinue() throws {
        let size = 1 << 20
        let s = try scenario { request in
            .text(201, "\(request.body.count)\n")
        }
        defer { s.close() }
        let result = try runPython(#"""
            import http.client, select, socket
            port, size = int(sys.argv[1]), int(sys.argv[2])
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.putrequest("PUT", "/expect")
            conn.putheader("Content-Length", str(size))
            conn.putheader("Expect", "100-continue")
            conn.endheaders()
            # Wait for the interim response (bounded only against a hang), look
            # at it without consuming it, then send the body; getresponse()
            # skips the 100 and returns the final response.
            readable, _, _ = select.select([conn.sock], [], [], 30)
            interim = conn.sock.recv(64, socket.MSG_PEEK).decode("latin-1") if readable else ""
            conn.send(pattern(size))
            r = conn.getresponse()
            text = r.read().decode()
            conn.close()
            emit({"responses": [{"status": r.status, "body": text}], "interim": interim})
            """#, ["\(s.port)", "\(size)"])
        #expect(result.interim?.hasPrefix("HTTP/1.1 100 ") == true, "before the body, the client read \(result.interim ?? "nothing")")
        let r = try #require(result.responses.first)
        #expect(r.status == 201 && r.body == "\(size)\n", "\(r)")
        let seen = try #require(s.backends.flatMap(\.requests).first)
        #expect(seen.sentContinue, "the server did not answer 100 Continue")
        #expect(seen.body.count == size && seen.body.checksum == HTTPPattern.checksum(size))
    }
}
