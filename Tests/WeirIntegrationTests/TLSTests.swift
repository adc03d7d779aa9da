import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

let opensslPath = "/usr/bin/openssl"
var hasOpenSSL: Bool { FileManager.default.isExecutableFile(atPath: opensslPath) }

/// Test certificates made with the `openssl` CLI in a temporary directory
/// (no private key is checked in): ECDSA P-256, self-signed, each its own CA.
final class TestCertificates: @unchecked Sendable {
    let dir: String
    /// CN and SAN `a.test`; certificate and key in one PEM file.
    var a: String { dir + "/a.pem" }
    var aCert: String { dir + "/a.crt" }
    /// SAN `*.w.test`; the key beside it in `w.pem.key`.
    var w: String { dir + "/w.pem" }
    var wCert: String { dir + "/w.pem" }
    /// The certificate of `a` with the key of `w`.
    var mismatched: String { dir + "/mismatch.pem" }

    init() throws {
        dir = NSTemporaryDirectory() + "weir-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try make(name: "a", subject: "/CN=a.test", san: "DNS:a.test")
        try make(name: "w", subject: "/CN=wildcard", san: "DNS:*.w.test")
        let a = try String(contentsOfFile: dir + "/a.crt", encoding: .utf8)
        let aKey = try String(contentsOfFile: dir + "/a.key", encoding: .utf8)
        let wCert = try String(contentsOfFile: dir + "/w.crt", encoding: .utf8)
        let wKey = try String(contentsOfFile: dir + "/w.key", encoding: .utf8)
        try (a + aKey).write(toFile: dir + "/a.pem", atomically: true, encoding: .utf8)
        try wCert.write(toFile: dir + "/w.pem", atomically: true, encoding: .utf8)
        try wKey.write(toFile: dir + "/w.pem.key", atomically: true, encoding: .utf8)
        try (a + wKey).write(toFile: dir + "/mismatch.pem", atomically: true, encoding: .utf8)
    }

    private func make(name: String, subject: String, san: String) throws {
        let run = try runTool(opensslPath, [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).crt", "-days", "2",
            "-subj", subject, "-addext", "subjectAltName=\(san)",
        ], timeout: 20)
        guard run.status == 0 else { throw WeirProcess.SpawnFailure(description: "openssl req failed: \(run.stderr)") }
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}

/// `curl https://NAME:PORT/PATH` resolved to loopback, trusting `ca`.
func curlHTTPS(port: UInt16, name: String = "a.test", _ path: String = "/", ca: String, arguments: [String] = []) throws -> CurlResponse {
    var args = ["-s", "-i", "--max-time", "5", "--noproxy", "*", "--cacert", ca,
                "--resolve", "\(name):\(port):127.0.0.1"]
    args += arguments
    args.append("https://\(name):\(port)\(path)")
    let run = try runTool(curlPath, args, timeout: 10)
    var response = CurlResponse(exitCode: run.status, status: 0, headers: [], body: "")
    guard let split = run.stdout.range(of: "\r\n\r\n") else { return response }
    let lines = run.stdout[..<split.lowerBound].components(separatedBy: "\r\n")
    response.status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        response.headers.append((line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
    }
    response.body = String(run.stdout[split.upperBound...])
    return response
}

/// `openssl s_client` handshaking with the given SNI and ALPN, then closing.
func sClient(port: UInt16, serverName: String?, alpn: String? = nil, extra: [String] = []) throws -> (status: Int32, output: String) {
    var args = ["s_client", "-connect", "127.0.0.1:\(port)"]
    if let serverName { args += ["-servername", serverName] } else { args.append("-noservername") }
    if let alpn { args += ["-alpn", alpn] }
    args += extra
    let run = try runTool(opensslPath, args, timeout: 10)
    return (run.status, run.stdout + run.stderr)
}

/// A `mode http` weir whose frontend `fe` has `binds` and answers from `be`.
func tlsHTTPConfig(binds: String, frontend: String = "", backend: HTTPBackend, defaults: String = "") -> String {
    """
    global
        log stdout format raw local0
    defaults
        mode http
        log global
        option httplog
        timeout connect 2s
        timeout client 10s
        timeout server 10s
    \(defaults)
    frontend fe
    \(binds)
    \(frontend)
        default_backend be
    backend be
        server s1 \(backend.address)
    """
}

@Suite("TLS termination", .serialized, .enabled(if: hasCurl && hasOpenSSL))
struct TLSTests {
    @Test("HTTPS GET through weir to a plain HTTP backend; the fetches see the TLS side")
    func httpsToPlainBackend() throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: tlsHTTPConfig(
            binds: "    bind 127.0.0.1:0 ssl crt \(certs.a) alpn h2,http/1.1",
            frontend: """
                    http-request set-header X-TLS "%[ssl_fc] %[ssl_fc_sni] %[ssl_fc_protocol] %[ssl_fc_alpn]"
                    http-request set-header X-Cipher %[ssl_fc_cipher]
                """,
            backend: backend))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        // curl offers h2 first: weir speaks HTTP/1.1 only, so it picks http/1.1.
        let r = try curlHTTPS(port: port, "/hello", ca: certs.aCert)
        #expect(r.status == 200, "\(r)")
        #expect(r.body.contains("s1 GET /hello"), "\(r)")
        #expect(backend.waitForRequests { requests in
            requests.contains { $0.headers.contains { $0.name.lowercased() == "x-tls" && $0.value == "1 a.test TLSv1.3 http/1.1" } }
        }, "\(backend.requests.map(\.headers))")
        #expect(backend.requests.contains { $0.headers.contains { $0.name.lowercased() == "x-cipher" && $0.value.hasPrefix("TLS_") } })
        // Keep-alive over TLS: two requests on one connection.
        let two = try curlHTTPS(port: port, "/one", ca: certs.aCert,
                                arguments: ["--http1.1", "https://a.test:\(port)/two"])
        #expect(two.exitCode == 0 && two.body.contains("s1 GET /two"), "\(two)")
        let log = try #require(weir.stdout.waitForLine { $0.contains("\"GET /hello HTTP/1.1\"") })
        // `%ft` says TLS with a `~`, as in HAProxy.
        #expect(log.contains("] fe~ be/s1 "), "\(log)")
    }

    @Test("large bodies both ways over TLS: a 3 MB download and a 1 MB upload, byte for byte")
    func largeBodies() throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let big = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) }
        let backend = try HTTPBackend { request in
            if request.method == "POST" {
                return .text(200, "got \(request.body.count)\n")
            }
            return .response(status: 200, headers: [], body: .bytes(big), framing: .contentLength)
        }
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: tlsHTTPConfig(binds: "    bind 127.0.0.1:0 ssl crt \(certs.a)", backend: backend))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        let out = certs.dir + "/download"
        let run = try runTool(curlPath, ["-s", "--max-time", "10", "--cacert", certs.aCert, "--resolve", "a.test:\(port):127.0.0.1",
                                         "-o", out, "https://a.test:\(port)/big"], timeout: 15)
        #expect(run.status == 0, "\(run.stderr)")
        let downloaded = try #require(FileManager.default.contents(atPath: out))
        #expect(downloaded.count == big.count && Array(downloaded) == big)
        let upload = certs.dir + "/upload"
        try Data(big.prefix(1 << 20)).write(to: URL(fileURLWithPath: upload))
        let posted = try curlHTTPS(port: port, "/up", ca: certs.aCert, arguments: ["--data-binary", "@" + upload])
        #expect(posted.status == 200 && posted.body == "got \(1 << 20)\n", "\(posted)")
    }

    @Test("SNI picks the exact or the wildcard certificate; an unknown name gets the first one")
    func sniSelection() throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: tlsHTTPConfig(
            binds: "    bind 127.0.0.1:0 ssl crt \(certs.a) crt \(certs.w)", backend: backend))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        #expect(try curlHTTPS(port: port, name: "a.test", ca: certs.aCert).status == 200)
        #expect(try curlHTTPS(port: port, name: "x.w.test", ca: certs.wCert).status == 200)
        let exact = try sClient(port: port, serverName: "a.test")
        #expect(exact.output.contains("subject=CN = a.test"), "\(exact.output)")
        let wildcard = try sClient(port: port, serverName: "api.w.test")
        #expect(wildcard.output.contains("subject=CN = wildcard"), "\(wildcard.output)")
        // A wildcard covers one level only.
        let deeper = try sClient(port: port, serverName: "a.b.w.test")
        #expect(deeper.output.contains("subject=CN = a.test"), "\(deeper.output)")
        let unknown = try sClient(port: port, serverName: "unknown.example")
        #expect(unknown.output.contains("subject=CN = a.test"), "\(unknown.output)")
        let none = try sClient(port: port, serverName: nil)
        #expect(none.output.contains("subject=CN = a.test"), "\(none.output)")
    }

    @Test("strict-sni refuses an unknown name and no name, and logs the handshake failure")
    func strictSNI() throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: tlsHTTPConfig(
            binds: "    bind 127.0.0.1:0 ssl crt \(certs.a) crt \(certs.w) strict-sni", backend: backend))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        #expect(try curlHTTPS(port: port, name: "a.test", ca: certs.aCert).status == 200)
        #expect(try curlHTTPS(port: port, name: "b.w.test", ca: certs.wCert).status == 200)
        let refused = try sClient(port: port, serverName: "unknown.example")
        #expect(refused.status != 0 && refused.output.contains("unrecognized name"), "\(refused.output)")
        let noName = try sClient(port: port, serverName: nil)
        #expect(noName.status != 0, "\(noName.output)")
        let log = weir.stdout.waitForLine { $0.contains("fe/1: SSL handshake failure") }
        #expect(log != nil, "stdout:\n\(weir.stdout.text)")
    }

    @Test("ALPN: the first protocol of the bind's list the client offers")
    func alpnNegotiation() throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: tlsHTTPConfig(
            binds: "    bind 127.0.0.1:0 ssl crt \(certs.a) alpn h2,http/1.1", backend: backend))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        let both = try sClient(port: port, serverName: "a.test", alpn: "h2,http/1.1")
        #expect(both.output.contains("ALPN protocol: http/1.1"), "\(both.output)")
        let other = try sClient(port: port, serverName: "a.test", alpn: "spdy/3")
        #expect(other.output.contains("No ALPN negotiated"), "\(other.output)")
        let r = try curlHTTPS(port: port, ca: certs.aCert, arguments: ["--http1.1"])
        #expect(r.status == 200, "\(r)")
    }

    @Test("ssl-min-ver TLSv1.3 refuses a TLS 1.2 client; the default refuses TLS 1.1")
    func minimumVersion() throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: tlsHTTPConfig(
            binds: """
                    bind 127.0.0.1:0 ssl crt \(certs.a) ssl-min-ver TLSv1.3
                    bind 127.0.0.1:0 ssl crt \(certs.a)
                """, backend: backend))
        defer { weir.stop() }
        let strict = try weir.port(of: "fe", index: 0)
        let normal = try weir.port(of: "fe", index: 1)
        let old = try curlHTTPS(port: strict, ca: certs.aCert, arguments: ["--tls-max", "1.2"])
        #expect(old.exitCode != 0 && old.status == 0, "\(old)")
        #expect(try curlHTTPS(port: strict, ca: certs.aCert, arguments: ["--tlsv1.3"]).status == 200)
        #expect(try curlHTTPS(port: normal, ca: certs.aCert, arguments: ["--tls-max", "1.2"]).status == 200)
        let log = weir.stdout.waitForLine { $0.contains("fe/1: SSL handshake failure (") }
        #expect(log?.contains("protocol") == true, "stdout:\n\(weir.stdout.text)")
        let tls11 = try sClient(port: normal, serverName: "a.test", extra: ["-tls1_1"])
        #expect(tls11.status != 0, "\(tls11.output)")
    }

    @Test("redirect scheme https if !{ ssl_fc }: the plain bind redirects, the ssl bind of the same frontend serves")
    func sslFcRedirect() throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: tlsHTTPConfig(
            binds: """
                    bind 127.0.0.1:0
                    bind 127.0.0.1:0 ssl crt \(certs.a)
                """,
            frontend: "    http-request redirect scheme https if !{ ssl_fc }", backend: backend))
        defer { weir.stop() }
        let plain = try weir.port(of: "fe", index: 0)
        let secure = try weir.port(of: "fe", index: 1)
        let redirected = try curlRequest(port: plain, "/x?y=1", arguments: ["-H", "Host: a.test"])
        #expect(redirected.status == 302, "\(redirected)")
        #expect(redirected.header("location") == "https://a.test/x?y=1", "\(redirected)")
        let served = try curlHTTPS(port: secure, "/x?y=1", ca: certs.aCert)
        #expect(served.status == 200 && served.body.contains("s1 GET /x?y=1"), "\(served)")
    }

    @Test("a key that does not match its certificate, an unreadable file and a bad PEM are errors at file:line:col")
    func certificateErrors() throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let junk = certs.dir + "/junk.pem"
        try "not a certificate\n".write(toFile: junk, atomically: true, encoding: .utf8)
        let missing = certs.dir + "/missing.pem"
        let file = try TempFile("""
            defaults
                mode http
                timeout connect 2s
                timeout client 10s
                timeout server 10s
            frontend fe
                bind 127.0.0.1:0 ssl crt \(certs.mismatched)
                bind 127.0.0.1:0 ssl crt \(certs.a) crt \(missing)
                bind 127.0.0.1:0 ssl crt \(junk)
                default_backend be
            backend be
                server s1 127.0.0.1:9
            """)
        defer { file.remove() }
        let run = try WeirProcess.run(["-c", "-f", file.path])
        #expect(run.status == 1)
        let col2 = 35 + certs.a.count
        #expect(run.stderr.contains("\(file.path):7:30: error: bind: the private key in '\(certs.mismatched)' does not match its certificate"), "\(run.stderr)")
        #expect(run.stderr.contains("\(file.path):8:\(col2): error: bind: cannot read certificate '\(missing)': No such file or directory"), "\(run.stderr)")
        #expect(run.stderr.contains("\(file.path):9:30: error: bind: '\(junk)' holds no valid PEM certificate (no start line)"), "\(run.stderr)")
    }

    @Test("a client that connects and sends nothing delays no one and is closed by timeout client-hs")
    func silentClientTimesOut() throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: tlsHTTPConfig(
            binds: "    bind 127.0.0.1:0 ssl crt \(certs.a)", backend: backend, defaults: "    timeout client-hs 1s"))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        let silent = try HTTPConnection(port: port, ioTimeout: 5)
        defer { silent.close() }
        let start = Date()
        for _ in 0..<3 {
            let r = try curlHTTPS(port: port, ca: certs.aCert)
            #expect(r.status == 200, "\(r)")
        }
        #expect(Date().timeIntervalSince(start) < 0.9, "other clients waited behind the silent one")
        #expect(silent.isClosedByPeer(within: 3))
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed >= 0.8 && elapsed < 3, "closed after \(elapsed)s")
        let log = weir.stdout.waitForLine { $0.contains("fe/1: Timeout during SSL handshake") }
        #expect(log != nil, "stdout:\n\(weir.stdout.text)")
    }

    @Test("mode tcp: TLS terminated in front of an echo backend, 200 kB each way")
    func tcpTermination() throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let python = try #require(pythonPath)
        let echo = try Backend(.echo)
        defer { echo.stop() }
        let weir = try WeirProcess.start(config: """
            defaults
                mode tcp
                timeout connect 2s
                timeout client 10s
                timeout server 10s
            frontend fe
                bind 127.0.0.1:0 ssl crt \(certs.a) alpn echo/1
                default_backend be
            backend be
                server s1 \(echo.address)
            """)
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        let script = """
            import socket, ssl, sys
            ctx = ssl.create_default_context(cafile=sys.argv[1])
            ctx.set_alpn_protocols(["echo/1"])
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=5), server_hostname="a.test")
            data = bytes(range(256)) * 800
            s.sendall(data)
            got = b""
            while len(got) < len(data):
                chunk = s.recv(65536)
                if not chunk: break
                got += chunk
            print(len(got), got == data, s.version(), s.selected_alpn_protocol())
            s.close()
            """
        let run = try runTool(python, ["-c", script, certs.aCert, String(port)], timeout: 15)
        #expect(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "204800 True TLSv1.3 echo/1",
                "\(run.stdout) \(run.stderr)")
    }

    @Test("mode tcp: use_backend by ssl_fc_sni after termination; the tcplog says fe~")
    func tcpRoutingBySNI() throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let python = try #require(pythonPath)
        let one = try Backend(.name("one"))
        defer { one.stop() }
        let two = try Backend(.name("two"))
        defer { two.stop() }
        let weir = try WeirProcess.start(config: """
            global
                log stdout format raw local0
            defaults
                mode tcp
                log global
                option tcplog
                timeout connect 2s
                timeout client 10s
                timeout server 10s
            frontend fe
                bind 127.0.0.1:0 ssl crt \(certs.a) crt \(certs.w)
                use_backend two if { ssl_fc_sni -m end .w.test }
                default_backend one
            backend one
                server s1 \(one.address)
            backend two
                server s2 \(two.address)
            """)
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        let script = """
            import socket, ssl, sys
            ctx = ssl.create_default_context(cafile=sys.argv[1])
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=5), server_hostname=sys.argv[3])
            got = b""
            while not got.endswith(b"\\n"):
                chunk = s.recv(100)
                if not chunk: break
                got += chunk
            print(got.decode().strip())
            """
        let a = try runTool(python, ["-c", script, certs.aCert, String(port), "a.test"], timeout: 10)
        #expect(a.stdout == "one\n", "\(a.stdout) \(a.stderr)")
        let w = try runTool(python, ["-c", script, certs.wCert, String(port), "api.w.test"], timeout: 10)
        #expect(w.stdout == "two\n", "\(w.stdout) \(w.stderr)")
        let log = weir.stdout.waitForLine { $0.contains(" fe~ two/s2 ") }
        #expect(log != nil, "stdout:\n\(weir.stdout.text)")
    }

    @Test("master and 2 workers: HTTPS served; a reload with a mismatched key fails and the old workers keep serving; a renewed certificate is picked up")
    func reloadKeepsServingOnBadCertificate() throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let backend = try HTTPBackend()
        defer { backend.stop() }
        // The served file is a copy the test replaces, as a renewal would.
        let served = certs.dir + "/served.pem"
        try FileManager.default.copyItem(atPath: certs.a, toPath: served)
        let config = """
            global
                nbthread 2
            defaults
                mode http
                timeout connect 2s
                timeout client 10s
                timeout server 10s
            frontend fe
                bind 127.0.0.1:0
                bind 127.0.0.1:0 ssl crt \(served)
                http-request return status 200 content-type text/plain lf-string "tls=%[ssl_fc]\\n"
            """
        let h = try MasterHarness(config: config)
        defer { h.close() }
        let plain = try h.master.port(of: "fe", index: 0)
        let secure = try h.master.port(of: "fe", index: 1)
        for _ in 0..<4 {
            let r = try curlHTTPS(port: secure, ca: certs.aCert)
            #expect(r.status == 200 && r.body == "tls=1\n", "\(r)")
        }
        #expect(try curlRequest(port: plain, "/").body == "tls=0\n")

        try FileManager.default.removeItem(atPath: served)
        try FileManager.default.copyItem(atPath: certs.mismatched, toPath: served)
        let (success, answer) = try h.reload()
        #expect(!success, "\(answer)")
        #expect(answer.contains("weir.cfg:10:30: error: bind: the private key in '\(served)' does not match its certificate"),
                "\(answer)")
        #expect(try curlHTTPS(port: secure, ca: certs.aCert).status == 200)

        // A renewed certificate (here another name) takes effect on reload.
        try FileManager.default.removeItem(atPath: served)
        try FileManager.default.copyItem(atPath: certs.w, toPath: served)
        try FileManager.default.copyItem(atPath: certs.w + ".key", toPath: served + ".key")
        let (renewed, renewedAnswer) = try h.reload()
        #expect(renewed, "\(renewedAnswer)")
        let after = try curlHTTPS(port: secure, name: "x.w.test", ca: certs.wCert)
        #expect(after.status == 200 && after.body == "tls=1\n", "\(after)")
    }
}
