import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// TLS passthrough: weir in mode tcp reads the ClientHello during
// `tcp-request inspect-delay` and routes by its server name without
// terminating TLS. The backends are real TLS servers (`openssl s_server`),
// each with a certificate of its own, so the certificate a client sees
// names the backend it reached.

/// `openssl s_server -www` on a loopback port it picks: ready once it has
/// printed `ACCEPT 127.0.0.1:PORT` and that port accepts connections.
private final class TLSBackend: @unchecked Sendable {
    let process = Process()
    let port: UInt16

    /// `output` collects what s_server prints.
    init(certificate: TestCertificate, output: String) throws {
        FileManager.default.createFile(atPath: output, contents: nil)
        process.executableURL = URL(fileURLWithPath: opensslPath)
        process.arguments = ["s_server", "-accept", "127.0.0.1:0", "-cert", certificate.cert, "-key", certificate.key, "-www"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
        var found: UInt16?
        _ = waitUntil(timeout: 10) {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("ACCEPT ") }),
                  let colon = line.lastIndex(of: ":") else { return false }
            found = UInt16(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            return found != nil
        }
        guard let found, waitUntil(timeout: 10, { !Sock.isRefused(port: found) }) else {
            kill(process.processIdentifier, SIGKILL)
            throw WeirProcess.SpawnFailure(description: "openssl s_server did not start listening")
        }
        port = found
    }

    var address: String { "127.0.0.1:\(port)" }

    /// SIGKILL: a child of the test runner may inherit a mask that blocks SIGTERM.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Three TLS backends, each with a self-signed certificate of its own
/// (`pass-a`, `pass-w`, `pass-d`), and a weir routing to them by SNI; `rules`
/// go in the frontend after `tcp-request inspect-delay`, with its `timeout
/// client` when given. The log line is tcplog's, then `sni=%[req.ssl_sni]`.
private final class PassthroughScenario: @unchecked Sendable {
    let pki: TestPKI
    let backends: [TLSBackend]
    let weir: WeirProcess
    let port: UInt16

    init(delay: String = "5s", clientTimeout: String? = nil, rules: String, backendRules: String = "") throws {
        pki = try TestPKI()
        var started: [TLSBackend] = []
        do {
            for name in ["a", "w", "d"] {
                started.append(try TLSBackend(certificate: pki.selfSigned(name, subject: "/CN=pass-\(name)"),
                                              output: pki.path("s_server-\(name).out")))
            }
            weir = try WeirProcess.start(config: tlsTestConfig(mode: "tcp", log: .frontendFormats, """
                frontend tls_in
                    bind 127.0.0.1:0
                \(clientTimeout.map { "    timeout client " + $0 } ?? "")
                    log-format "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq sni=%[req.ssl_sni]"
                    tcp-request inspect-delay \(delay)
                \(rules)
                    use_backend be_a if { req.ssl_sni -i a.test }
                    use_backend be_w if { req.ssl_sni -m end .w.test }
                    default_backend be_default
                backend be_a
                    server a \(started[0].address)
                backend be_w
                \(backendRules)
                    server w \(started[1].address)
                backend be_default
                    server d \(started[2].address)
                backend be_hash
                    balance hash req.ssl_sni
                    server a \(started[0].address)
                    server w \(started[1].address)
                """))
        } catch {
            started.forEach { $0.stop() }
            pki.remove()
            throw error
        }
        backends = started
        port = try weir.port(of: "tls_in")
    }

    func stop() {
        weir.stop()
        backends.forEach { $0.stop() }
        pki.remove()
    }

    /// Which backend's certificate `openssl s_client` saw (`a`, `w`, `d`), nil when the handshake failed.
    func handshake(serverName: String?) throws -> String? {
        Self.backendName(in: try sClient(port: port, serverName: serverName).stdout)
    }

    static func backendName(in text: String) -> String? {
        ["a", "w", "d"].first { text.contains("CN = pass-\($0)") || text.contains("CN=pass-\($0)") }
    }

    /// The log line of the session whose `sni=` field is `name`.
    func logLine(sni name: String) -> TCPLogLine? {
        weir.stdout.waitForLine { $0.hasSuffix(" sni=\(name)") }.flatMap(TCPLogLine.init)
    }
}

/// A Python client that makes its ClientHello with the ssl module's
/// memory BIOs and writes it to a raw socket itself, in `pieces` writes 50
/// ms apart (`wait` seconds after connecting), then finishes the handshake
/// and prints the backend's certificate name (`pass-…`) or `closed`.
private let splitHelloClient = """
    import socket, ssl, sys, time
    port, name, pieces, wait = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    time.sleep(wait)
    # The first cut falls inside the 5-byte record header.
    cuts = [3] + [len(hello) * i // pieces for i in range(1, pieces)] + [len(hello)]
    start = 0
    for cut in cuts:
        s.sendall(hello[start:cut])
        start = cut
        time.sleep(0.05)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            data = outgoing.read()
            if data:
                s.sendall(data)
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                print("closed")
                sys.exit(0)
            incoming.write(chunk)
    der = tls.getpeercert(binary_form=True)
    print(next((n for n in ("pass-a", "pass-w", "pass-d") if n.encode() in der), "unknown"))
    """

@Suite("TLS passthrough by SNI", .serialized, .enabled(if: hasOpenSSL))
struct TLSPassthroughTests {
    @Test("the ClientHello's server name picks the backend; unknown names and no SNI go to the default; %[req.ssl_sni] is logged")
    func routesByServerName() throws {
        let s = try PassthroughScenario(rules: "    tcp-request content accept if { req.ssl_hello_type 1 }")
        defer { s.stop() }
        #expect(try s.handshake(serverName: "a.test") == "a")
        #expect(try s.handshake(serverName: "x.w.test") == "w")
        #expect(try s.handshake(serverName: "api.eu.w.test") == "w")
        #expect(try s.handshake(serverName: "other.test") == "d")
        #expect(try s.handshake(serverName: nil) == "d")
        let a = try #require(s.logLine(sni: "a.test"), "stdout:\n\(s.weir.stdout.text)")
        #expect(a.backend == "be_a" && a.server == "a")
        #expect(a.bytes > 0)
        let w = try #require(s.logLine(sni: "x.w.test"))
        #expect(w.backend == "be_w" && w.server == "w")
        let other = try #require(s.logLine(sni: "other.test"))
        #expect(other.backend == "be_default")
        #expect(s.logLine(sni: "-")?.backend == "be_default")
    }

    @Test("reject if !{ req.ssl_hello_type 1 }: plain bytes are closed at once (PR); TLS still passes; backend rules run too")
    func rejectsNonTLS() throws {
        let s = try PassthroughScenario(rules: "    tcp-request content reject if !{ req.ssl_hello_type 1 }",
                                        backendRules: "    tcp-request content reject if { req.ssl_sni -i blocked.w.test }")
        defer { s.stop() }
        let client = try Client(port: s.port)
        try client.send("GET / HTTP/1.1\r\nhost: a.test\r\n\r\n")
        let (bytes, end) = client.readToEnd()
        #expect(bytes.isEmpty && end.isClosed, "\(bytes.count) bytes, \(end)")
        let line = try #require(s.weir.logLine(clientPort: client.localPort), "stdout:\n\(s.weir.stdout.text)")
        #expect(line.termination == "PR")
        #expect(line.backend == "tls_in" && line.server == "<NOSRV>")
        #expect(try s.handshake(serverName: "a.test") == "a")
        #expect(try s.handshake(serverName: "blocked.w.test") == nil)
        let blocked = try #require(s.logLine(sni: "blocked.w.test"))
        #expect(blocked.termination == "PR")
        #expect(blocked.backend == "be_w" && blocked.server == "<NOSRV>")
    }

    @Test("a ClientHello written in several pieces, the record header split, still routes by its name")
    func splitClientHello() throws {
        let python = try #require(pythonPath)
        let s = try PassthroughScenario(rules: "    tcp-request content accept if { req.ssl_hello_type 1 }")
        defer { s.stop() }
        let w = try runTool(python, ["-c", splitHelloClient, String(s.port), "x.w.test", "4", "0"], timeout: 20)
        #expect(w.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "pass-w", "\(w.stdout) \(w.stderr)")
        let a = try runTool(python, ["-c", splitHelloClient, String(s.port), "a.test", "7", "0"], timeout: 20)
        #expect(a.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "pass-a", "\(a.stdout) \(a.stderr)")
        #expect(s.logLine(sni: "x.w.test")?.backend == "be_w")
    }

    @Test("a client that sends nothing is decided when inspect-delay passes: to the default backend, or closed by a reject")
    func silentClient() throws {
        let python = try #require(pythonPath)
        let accepting = try PassthroughScenario(delay: "200ms", rules: "    tcp-request content accept if { req.ssl_hello_type 1 }")
        defer { accepting.stop() }
        // Its hello comes after the decision: it names a.test, but the session already went to the default.
        let late = try runTool(python, ["-c", splitHelloClient, String(accepting.port), "a.test", "1", "1.5"], timeout: 20)
        #expect(late.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "pass-d", "\(late.stdout) \(late.stderr)")

        let rejecting = try PassthroughScenario(delay: "200ms", rules: "    tcp-request content reject if !{ req.ssl_hello_type 1 }")
        defer { rejecting.stop() }
        let client = try Client(port: rejecting.port)
        let (bytes, end) = client.readToEnd()
        #expect(bytes.isEmpty && end.isClosed, "\(end)")
        let line = try #require(rejecting.weir.logLine(clientPort: client.localPort), "stdout:\n\(rejecting.weir.stdout.text)")
        #expect(line.termination == "PR")
    }

    @Test("balance hash req.ssl_sni: the name read from the ClientHello keeps each client on one server")
    func hashBySNI() throws {
        let s = try PassthroughScenario(rules: """
                tcp-request content accept if { req.ssl_hello_type 1 }
                use_backend be_hash if { req.ssl_sni -m end .hash.test }
            """)
        defer { s.stop() }
        // Round robin would alternate between the two servers.
        for name in ["one.hash.test", "two.hash.test", "three.hash.test"] {
            let first = try s.handshake(serverName: name)
            #expect(first == "a" || first == "w", "\(name): \(String(describing: first))")
            #expect(try s.handshake(serverName: name) == first, "\(name)")
            #expect(try s.handshake(serverName: name) == first, "\(name)")
        }
    }

    @Test("a client that closes or resets during inspection is logged CR, with no server")
    func clientLeavesDuringInspection() throws {
        let s = try PassthroughScenario(rules: "    tcp-request content accept if { req.ssl_hello_type 1 }")
        defer { s.stop() }
        let closing = try Client(port: s.port)
        #expect(closing.receivesNothing(within: 0.2))
        closing.shutdownWrite()
        let line = try #require(s.weir.logLine(clientPort: closing.localPort), "stdout:\n\(s.weir.stdout.text)")
        #expect(line.termination == "CR")
        #expect(line.server == "<NOSRV>")
        let resetting = try Client(port: s.port)
        try resetting.send([0x16, 0x03, 0x01])
        #expect(resetting.receivesNothing(within: 0.2))
        resetting.abort()
        let reset = try #require(s.weir.logLine(clientPort: resetting.localPort))
        #expect(reset.termination == "CR")
        #expect(reset.server == "<NOSRV>")
    }

    @Test("timeout client shorter than inspect-delay: a silent client is closed and logged cR")
    func clientTimeoutDuringInspection() throws {
        let s = try PassthroughScenario(clientTimeout: "300ms",
                                        rules: "    tcp-request content accept if { req.ssl_hello_type 1 }")
        defer { s.stop() }
        let client = try Client(port: s.port)
        let (bytes, end) = client.readToEnd()
        #expect(bytes.isEmpty && end.isClosed, "\(end)")
        let line = try #require(s.weir.logLine(clientPort: client.localPort), "stdout:\n\(s.weir.stdout.text)")
        #expect(line.termination == "cR")
        #expect(line.backend == "tls_in" && line.server == "<NOSRV>")
    }
}
