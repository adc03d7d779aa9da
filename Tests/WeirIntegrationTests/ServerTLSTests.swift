import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

private var hasServerTLSTools: Bool { pythonPath != nil && hasOpenSSL }

/// A CA, a server certificate it signed (`x.test`, `localhost`, 127.0.0.1),
/// a client certificate it signed, and a server certificate from another
/// CA; all ECDSA.
private struct ServerCertificates {
    let pki: TestPKI
    let ca: TestCertificate
    let server: TestCertificate
    let client: TestCertificate
    let otherServer: TestCertificate

    init() throws {
        pki = try TestPKI()
        ca = try pki.authority("ca", subject: "/CN=Weir Test CA", key: .ecdsa)
        server = try pki.signed("server", subject: "/CN=x.test", by: ca, key: .ecdsa,
                                extensions: ["subjectAltName=DNS:x.test,DNS:localhost,IP:127.0.0.1"])
        client = try pki.signed("client", subject: "/CN=weir-client", by: ca, key: .ecdsa, extensions: ["extendedKeyUsage=clientAuth"])
        otherServer = try pki.selfSigned("other", names: ["x.test"])
    }

    func remove() { pki.remove() }
}

/// The TLS server the tests connect weir to: Python's `http.server` over
/// `ssl`, HTTP/1.1 with keep-alive. Each response body says
/// `conn=N sni=NAME client=CN resumed=BOOL path=P`: N counts the TLS
/// connections it accepted. With `plain`, no TLS at all.
private final class PythonTLSServer: @unchecked Sendable {
    static let script = """
        import http.server, socketserver, ssl, sys, threading
        cert, require_client, ca, plain = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4] == "1"
        lock = threading.Lock()
        count = [0]
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def setup(self):
                super().setup()
                with lock:
                    count[0] += 1
                    self.number = count[0]
            def do_GET(self):
                sni = getattr(self.request, "weir_sni", None)
                client = "-"
                resumed = False
                if not plain:
                    peer = self.request.getpeercert()
                    if peer:
                        client = dict(x[0] for x in peer["subject"]).get("commonName", "?")
                    resumed = self.request.session_reused
                body = ("conn=%d sni=%s client=%s resumed=%s path=%s" % (self.number, sni, client, resumed, self.path)).encode()
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args):
                pass
        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            def handle_error(self, request, address):
                pass
        httpd = Server(("127.0.0.1", 0), Handler)
        if not plain:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert)
            context.set_alpn_protocols(["http/1.1"])
            if require_client:
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(ca)
            def remember(sock, name, ctx):
                sock.weir_sni = name
            context.sni_callback = remember
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        print(httpd.server_address[1], flush=True)
        httpd.serve_forever()
        """

    let process = Process()
    let port: UInt16

    init(certificate: String, requireClientCertificate: Bool = false, ca: String = "", plain: Bool = false) throws {
        process.executableURL = URL(fileURLWithPath: try #require(pythonPath))
        process.arguments = ["-c", Self.script, certificate, requireClientCertificate ? "1" : "0", ca, plain ? "1" : "0"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // The port is printed once the socket listens: readiness.
        var line = Data()
        let reader = out.fileHandleForReading
        while line.count < 16 {
            let byte = reader.readData(ofLength: 1)
            if byte.isEmpty || byte.first == UInt8(ascii: "\n") { break }
            line.append(byte)
        }
        guard let port = UInt16(String(decoding: line, as: UTF8.self)) else {
            kill(process.processIdentifier, SIGKILL)
            throw WeirProcess.SpawnFailure(description: "the Python TLS server did not start")
        }
        self.port = port
    }

    /// SIGKILL: the test runner's threads may block SIGTERM, and the child inherits the mask.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// `openssl s_server -www` over TLS 1.2 with no session cache: a session
/// can resume only from a ticket. It prints each ClientHello's extensions
/// (`-tlsextdebug`), and its page says `New, …` or `Reused, …`. It serves
/// one connection at a time.
private final class TicketOnlyServer: @unchecked Sendable {
    let process = Process()
    let output: LineCollector
    let port: UInt16

    init(certificate: TestCertificate) throws {
        process.executableURL = URL(fileURLWithPath: opensslPath)
        process.arguments = ["s_server", "-accept", "127.0.0.1:0", "-www", "-no_cache", "-tls1_2", "-tlsextdebug",
                             "-cert", certificate.cert, "-key", certificate.key]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        output = LineCollector(fd: dup(pipe.fileHandleForReading.fileDescriptor))
        // `ACCEPT 127.0.0.1:PORT` once it listens: readiness.
        guard let line = output.waitForLine(timeout: 20, where: { $0.hasPrefix("ACCEPT ") }),
              let port = line.split(separator: ":").last.flatMap({ UInt16($0) }) else {
            kill(process.processIdentifier, SIGKILL)
            throw WeirProcess.SpawnFailure(description: "openssl s_server did not start")
        }
        self.port = port
    }

    /// How many ClientHellos offered the session ticket extension.
    var ticketOffers: Int { output.lines.filter { $0.contains("\"session ticket\"") }.count }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// A weir logging to stdout whose frontend `fe`, on a free port, sends to
/// backend `be` with `backend` lines, then `servers`.
private func serverTLSConfig(mode: String = "http", global: [String] = [], backend: [String] = [], servers: [String]) -> String {
    tlsTestConfig(mode: mode, log: mode == "http" ? .httplog : .tcplog, global: global, (
        ["frontend fe", "    bind 127.0.0.1:0", "    default_backend be", "backend be"] + (backend + servers).map { "    " + $0 }
    ).joined(separator: "\n"))
}

/// `ServerCertificates`, a `PythonTLSServer` presenting `presenting` of them
/// (the CA-signed server certificate unless given), and a weir whose server
/// `s1` is that server with `ssl` and `options`.
private final class ServerTLSScenario: @unchecked Sendable {
    let certs: ServerCertificates
    let server: PythonTLSServer
    let weir: WeirProcess

    init(presenting: (ServerCertificates) -> TestCertificate = { $0.server }, requireClientCertificate: Bool = false,
         mode: String = "http", backend: [String] = [], options: (ServerCertificates) -> String) throws {
        certs = try ServerCertificates()
        do {
            server = try PythonTLSServer(certificate: presenting(certs).pem, requireClientCertificate: requireClientCertificate,
                                         ca: certs.ca.cert)
        } catch {
            certs.remove()
            throw error
        }
        do {
            weir = try WeirProcess.start(config: serverTLSConfig(mode: mode, backend: backend, servers: [
                "server s1 127.0.0.1:\(server.port) ssl \(options(certs))",
            ]))
        } catch {
            server.stop()
            certs.remove()
            throw error
        }
    }

    func stop() {
        weir.stop()
        server.stop()
        certs.remove()
    }
}

@Suite("TLS towards the servers", .serialized, .enabled(if: hasCurl && hasServerTLSTools))
struct ServerTLSTests {
    @Test("verify required with the right CA: 200, and ssl_bc* see the server side")
    func verifiedServer() throws {
        let s = try ServerTLSScenario(backend: [
            #"http-response set-header X-BC "%[ssl_bc] %[ssl_bc_protocol] %[ssl_bc_alpn]""#,
            "http-response set-header X-BC-Cipher %[ssl_bc_cipher]",
        ], options: { "verify required ca-file \($0.ca.cert) alpn http/1.1" })
        defer { s.stop() }
        let r = try curlRequest(port: try s.weir.port(of: "fe"), "/hello")
        #expect(r.status == 200, "\(r)")
        #expect(r.body.hasPrefix("conn=1 sni=None client=- resumed=False path=/hello"), "\(r)")
        let bc = try #require(r.header("x-bc"))
        #expect(bc.hasPrefix("1 TLSv1.") && bc.hasSuffix(" http/1.1"), "\(bc)")
        #expect(!(r.header("x-bc-cipher") ?? "").isEmpty)
    }

    @Test("a server certificate from another CA: 503, SC, and a log line naming the failed verification")
    func wrongCA() throws {
        let s = try ServerTLSScenario(presenting: { $0.otherServer }, backend: ["retries 1"], options: { "ca-file \($0.ca.cert)" })
        defer { s.stop() }
        let weir = s.weir
        let r = try curlRequest(port: try weir.port(of: "fe"), "/")
        #expect(r.status == 503, "\(r)")
        let reason = weir.stdout.waitForLine { $0.contains("fe be/s1: SSL handshake failure (certificate verify failed") }
        #expect(reason != nil, "\(weir.stdout.text)")
        // One try and one retry, each failing the same way.
        #expect(weir.stdout.waitForLine { $0.contains(" 503 ") && $0.contains(" SC-- ") } != nil, "\(weir.stdout.text)")
        #expect(weir.stdout.lines.filter { $0.contains("certificate verify failed") }.count == 2, "\(weir.stdout.text)")
    }

    @Test("no-tlsv13 holds the server side to TLS 1.2; force-tlsv13 to TLS 1.3")
    func versionToggles() throws {
        for (option, expected) in [("no-sslv3 no-tlsv10 no-tlsv11 no-tlsv13", "TLSv1.2"), ("force-tlsv13", "TLSv1.3")] {
            let s = try ServerTLSScenario(backend: ["http-response set-header X-BC %[ssl_bc_protocol]"],
                                          options: { _ in "verify none \(option)" })
            defer { s.stop() }
            let r = try curlRequest(port: try s.weir.port(of: "fe"), "/")
            #expect(r.status == 200 && r.header("x-bc") == expected, "\(option): \(r)")
        }
    }

    @Test("verify none accepts a certificate from any CA")
    func verifyNone() throws {
        let s = try ServerTLSScenario(presenting: { $0.otherServer }, options: { _ in "verify none" })
        defer { s.stop() }
        let r = try curlRequest(port: try s.weir.port(of: "fe"), "/")
        #expect(r.status == 200, "\(r)")
    }

    @Test("sni str(x.test) reaches the server")
    func constantServerName() throws {
        let s = try ServerTLSScenario(options: { "ca-file \($0.ca.cert) sni str(x.test)" })
        defer { s.stop() }
        let r = try curlRequest(port: try s.weir.port(of: "fe"), "/")
        #expect(r.status == 200, "\(r)")
        #expect(r.body.contains("sni=x.test"), "\(r)")
    }

    @Test("sni req.hdr(x-name): each request's name is sent and verified against the certificate")
    func requestServerName() throws {
        let s = try ServerTLSScenario(backend: ["retries 0"], options: { "ca-file \($0.ca.cert) sni req.hdr(x-name)" })
        defer { s.stop() }
        let port = try s.weir.port(of: "fe")
        // One client: its kept server connection serves the requests with
        // the same name; another name gets a connection of its own.
        let client = try HTTPConnection(port: port)
        for (name, expected) in [("x.test", "conn=1 sni=x.test"), ("x.test", "conn=1 sni=x.test"),
                                 ("localhost", "conn=2 sni=localhost")] {
            try client.request("GET", "/", headers: ["x-name: \(name)"])
            let r = try client.readResponse()
            #expect(r.status == 200 && r.text.hasPrefix(expected), "\(r)")
        }
        client.close()
        let good = try curlRequest(port: port, "/", arguments: ["-H", "x-name: x.test"])
        #expect(good.status == 200 && good.body.contains("sni=x.test"), "\(good)")
        let wrong = try curlRequest(port: port, "/", arguments: ["-H", "x-name: y.test"])
        #expect(wrong.status == 503, "\(wrong)")
        #expect(s.weir.stdout.waitForLine { $0.contains("certificate verify failed: hostname mismatch") } != nil,
                "\(s.weir.stdout.text)")
    }

    @Test("a client certificate (crt) is presented to a server that requires one")
    func clientCertificate() throws {
        let s = try ServerTLSScenario(requireClientCertificate: true, options: { "ca-file \($0.ca.cert) crt \($0.client.pem)" })
        defer { s.stop() }
        let r = try curlRequest(port: try s.weir.port(of: "fe"), "/")
        #expect(r.status == 200, "\(r)")
        #expect(r.body.contains("client=weir-client"), "\(r)")
    }

    @Test("keep-alive: several requests over one server TLS connection; the next connection resumes the session")
    func keepAliveAndResumption() throws {
        let s = try ServerTLSScenario(backend: ["http-reuse never"], options: { "ca-file \($0.ca.cert) verifyhost x.test" })
        defer { s.stop() }
        let port = try s.weir.port(of: "fe")
        let client = try HTTPConnection(port: port)
        for i in 1...3 {
            try client.request("GET", "/r\(i)")
            let r = try client.readResponse()
            #expect(r.status == 200 && r.text == "conn=1 sni=None client=- resumed=False path=/r\(i)", "\(r)")
        }
        client.close()
        // A new client gets a new server connection, offered the last session.
        let r = try curlRequest(port: port, "/again")
        #expect(r.status == 200 && r.body.hasPrefix("conn=2 ") && r.body.contains("resumed=True"), "\(r)")
    }

    @Test("http-reuse always: a pooled server connection keeps its TLS side for the next client")
    func pooledConnection() throws {
        let s = try ServerTLSScenario(backend: ["http-reuse always"], options: { "ca-file \($0.ca.cert) sni str(x.test)" })
        defer { s.stop() }
        let port = try s.weir.port(of: "fe")
        for i in 1...3 {
            let r = try curlRequest(port: port, "/p\(i)")
            #expect(r.status == 200 && r.body == "conn=1 sni=x.test client=- resumed=False path=/p\(i)", "\(r)")
        }
    }

    @Test("no-ssl-reuse: the next connection makes a full handshake")
    func noSessionReuse() throws {
        let s = try ServerTLSScenario(backend: ["http-reuse never"], options: { "ca-file \($0.ca.cert) no-ssl-reuse" })
        defer { s.stop() }
        let port = try s.weir.port(of: "fe")
        for _ in 1...2 {
            let r = try curlRequest(port: port, "/")
            #expect(r.status == 200 && r.body.contains("resumed=False"), "\(r)")
        }
    }

    @Test("a server that never answers the handshake: timeout connect bounds it, 503 sC")
    func handshakeTimeout() throws {
        // Listening, never accepting: the kernel completes the TCP handshake,
        // nobody answers the ClientHello.
        let silent = try Sock.listener()
        defer { Glibc.close(silent) }
        let weir = try WeirProcess.start(config: serverTLSConfig(backend: ["retries 0", "timeout connect 300ms"], servers: [
            "server s1 127.0.0.1:\(Sock.localPort(silent)) ssl verify none",
        ]))
        defer { weir.stop() }
        let r = try curlRequest(port: try weir.port(of: "fe"), "/")
        #expect(r.status == 503, "\(r)")
        #expect(weir.stdout.waitForLine { $0.contains("fe be/s1: Timeout during SSL handshake") } != nil, "\(weir.stdout.text)")
        #expect(weir.stdout.waitForLine { $0.contains(" 503 ") && $0.contains(" sC-- ") } != nil, "\(weir.stdout.text)")
    }

    @Test("mode tcp over TLS to the server")
    func tcpMode() throws {
        let s = try ServerTLSScenario(mode: "tcp", options: { "ca-file \($0.ca.cert) sni str(x.test)" })
        defer { s.stop() }
        let r = try curlRequest(port: try s.weir.port(of: "fe"), "/tcp")
        #expect(r.status == 200 && r.body.contains("sni=x.test") && r.body.contains("path=/tcp"), "\(r)")
    }

    @Test("mode tcp: a failed verification closes the client and logs the reason")
    func tcpModeFailure() throws {
        let s = try ServerTLSScenario(presenting: { $0.otherServer }, mode: "tcp", backend: ["retries 0"],
                                      options: { "ca-file \($0.ca.cert)" })
        defer { s.stop() }
        let weir = s.weir
        let r = try curlRequest(port: try weir.port(of: "fe"), "/")
        #expect(r.status == 0, "\(r)")
        #expect(weir.stdout.waitForLine { $0.contains("fe be/s1: SSL handshake failure (certificate verify failed") } != nil,
                "\(weir.stdout.text)")
        #expect(weir.stdout.waitForLine { $0.contains(" SC ") } != nil, "\(weir.stdout.text)")
    }

    @Test("check-ssl: a TLS server passes, a plain one and one from another CA fail with HAProxy's Layer6 reason")
    func tlsChecks() throws {
        let certs = try ServerCertificates()
        defer { certs.remove() }
        let good = try PythonTLSServer(certificate: certs.server.pem)
        defer { good.stop() }
        let plain = try PythonTLSServer(certificate: certs.server.pem, plain: true)
        defer { plain.stop() }
        let other = try PythonTLSServer(certificate: certs.otherServer.pem)
        defer { other.stop() }
        let weir = try WeirProcess.start(config: serverTLSConfig(backend: ["option httpchk GET /health", "option log-health-checks"],
                                                                 servers: [
            "default-server check check-ssl ca-file \(certs.ca.cert) check-sni x.test inter 200 fall 1 rise 1",
            "server good 127.0.0.1:\(good.port)",
            "server plain 127.0.0.1:\(plain.port)",
            "server other 127.0.0.1:\(other.port)",
        ]))
        defer { weir.stop() }
        let passed = weir.stderr.waitForLine { $0.contains("Health check for server be/good succeeded, reason: Layer7 check passed, code: 200") }
        #expect(passed != nil, "\(weir.stderr.text)")
        let plainDown = weir.stderr.waitForLine { $0.contains("Server be/plain is DOWN, reason: Layer6 invalid response, info: \"SSL handshake failure (") }
        #expect(plainDown != nil, "\(weir.stderr.text)")
        let otherDown = weir.stderr.waitForLine {
            $0.contains("Server be/other is DOWN, reason: Layer6 invalid response, info: \"SSL handshake failure (certificate verify failed")
        }
        #expect(otherDown != nil, "\(weir.stderr.text)")
        // Traffic goes to the server still UP (plain HTTP: the servers have no `ssl`).
        #expect(weir.stderr.lines.contains { $0.contains("Server be/good is DOWN") } == false)
    }

    @Test("under a master, its health checker runs the TLS checks: a certificate from another CA is DOWN")
    func tlsChecksUnderAMaster() throws {
        let certs = try ServerCertificates()
        defer { certs.remove() }
        let good = try PythonTLSServer(certificate: certs.server.pem)
        defer { good.stop() }
        let other = try PythonTLSServer(certificate: certs.otherServer.pem)
        defer { other.stop() }
        let harness = try MasterHarness(config: serverTLSConfig(global: ["nbthread 2"], backend: ["option httpchk GET /health"], servers: [
            "server good 127.0.0.1:\(good.port) ssl ca-file \(certs.ca.cert) check inter 200 fall 1 rise 1",
            "server other 127.0.0.1:\(other.port) ssl ca-file \(certs.ca.cert) check inter 200 fall 1 rise 1",
        ]))
        defer { harness.close() }
        let down = "Server be/other is DOWN, reason: Layer6 invalid response, info: \"SSL handshake failure (certificate verify failed"
        #expect(harness.master.waitForCount(of: down, atLeast: 1), "\(harness.master.stderr.text)")
        // Traffic goes to the server still UP, over TLS.
        let r = try curlRequest(port: try harness.master.port(of: "fe"), "/")
        #expect(r.status == 200 && r.body.contains("path=/"), "\(r)")
        #expect(harness.master.count(of: "Server be/good is DOWN") == 0, "\(harness.master.stderr.text)")
    }

    @Test("configuration errors: no CA file under the default verify required, an unreadable crt")
    func configurationErrors() throws {
        let first = try checkConfiguration("""
            backend be
                server s1 127.0.0.1:8443 ssl
            """)
        #expect(first.status != 0)
        #expect(first.stderr.contains("\(first.path):2:30: error: server 'be/s1': verify is enabled by default but no CA file specified."),
                "\(first.stderr)")
        let certs = try ServerCertificates()
        defer { certs.remove() }
        let line = "    server s1 127.0.0.1:8443 ssl ca-file \(certs.ca.cert) crt /nonexistent/client.pem"
        let second = try checkConfiguration("backend be\n" + line + "\n")
        #expect(second.status != 0)
        // The column of the path after `crt`.
        let column = line.distance(from: line.startIndex, to: line.range(of: "/nonexistent")!.lowerBound) + 1
        #expect(second.stderr.contains("\(second.path):2:\(column): error: server 'be/s1': cannot read certificate "
                                       + "'/nonexistent/client.pem': No such file or directory"), "\(second.stderr)")
    }

    @Test("tls-tickets by default: the next connection resumes from the ticket; no-tls-tickets offers none",
          arguments: ["", "no-tls-tickets", "global"])
    func sessionTickets(option: String) throws {
        let certs = try ServerCertificates()
        defer { certs.remove() }
        let server = try TicketOnlyServer(certificate: certs.server)
        defer { server.stop() }
        let global = option == "global" ? ["ssl-default-server-options no-tls-tickets"] : []
        let weir = try WeirProcess.start(config: serverTLSConfig(global: global, backend: ["http-reuse never"], servers: [
            "server s1 127.0.0.1:\(server.port) ssl verify none \(option == "global" ? "" : option)",
        ]))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        var sessions: [String] = []
        for _ in 1...2 {
            let r = try curlRequest(port: port, "/")
            #expect(r.status == 200, "\(r)")
            sessions += r.body.split(separator: "\n").filter { $0.hasPrefix("New,") || $0.hasPrefix("Reused,") }
                .map { String($0.prefix { $0 != "," }) }
        }
        if option.isEmpty {
            #expect(sessions == ["New", "Reused"])
            #expect(server.ticketOffers == 2, "\(server.output.text)")
        } else {
            #expect(sessions == ["New", "New"])
            #expect(server.ticketOffers == 0, "\(server.output.text)")
        }
    }

}
