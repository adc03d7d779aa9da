import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The certificates these tests serve, self-signed ECDSA ones: `a.test`,
/// and `*.w.test` (CN `wildcard`) kept as a certificate file with its key
/// beside it in `FILE.key`.
private struct SNICertificates {
    let pki: TestPKI
    let a: TestCertificate
    /// The certificate of `*.w.test` alone; its key is `wildcard + ".key"`.
    let wildcard: String
    /// The certificate of `a` with the key of the wildcard.
    let mismatched: String

    init() throws {
        pki = try TestPKI()
        a = try pki.aTest()
        let w = try pki.selfSigned("w", subject: "/CN=wildcard", names: ["*.w.test"])
        wildcard = try pki.bundle([w.cert], into: "wildcard.pem")
        try pki.bundle([w.key], into: "wildcard.pem.key")
        mismatched = try pki.bundle([a.cert, w.key], into: "mismatch.pem")
    }

    func remove() { pki.remove() }
}

/// `SNICertificates`, an HTTP backend and a weir whose frontend `fe` has the
/// `binds` made for the certificates, then `frontend` lines.
private final class TerminationScenario: @unchecked Sendable {
    let certs: SNICertificates
    let backend: HTTPBackend
    let weir: WeirProcess

    init(backend: HTTPBackend? = nil, binds: (SNICertificates) -> [String], frontend: [String] = [], defaults: [String] = []) throws {
        certs = try SNICertificates()
        do {
            self.backend = try backend ?? HTTPBackend()
        } catch {
            certs.remove()
            throw error
        }
        do {
            weir = try WeirProcess.start(config: tlsHTTPConfig(binds: binds(certs), frontend: frontend, backend: self.backend,
                                                               defaults: defaults))
        } catch {
            self.backend.stop()
            certs.remove()
            throw error
        }
    }

    func stop() {
        weir.stop()
        backend.stop()
        certs.remove()
    }
}

@Suite("TLS termination", .serialized, .enabled(if: hasCurl && hasOpenSSL))
struct TLSTests {
    @Test("HTTPS GET through weir to a plain HTTP backend; the fetches see the TLS side")
    func httpsToPlainBackend() throws {
        let s = try TerminationScenario(binds: { ["bind 127.0.0.1:0 ssl crt \($0.a.pem) alpn h2,http/1.1"] }, frontend: [
            #"http-request set-header X-TLS "%[ssl_fc] %[ssl_fc_sni] %[ssl_fc_protocol] %[ssl_fc_alpn]""#,
            "http-request set-header X-Cipher %[ssl_fc_cipher]",
        ])
        defer { s.stop() }
        let port = try s.weir.port(of: "fe")
        // curl offers h2 first: weir speaks HTTP/1.1 only, so it picks http/1.1.
        let r = try curlHTTPS(port: port, "/hello", ca: s.certs.a.cert)
        #expect(r.status == 200, "\(r)")
        #expect(r.body.contains("s1 GET /hello"), "\(r)")
        #expect(s.backend.waitForRequests { requests in
            requests.contains { $0.headers.contains { $0.name.lowercased() == "x-tls" && $0.value == "1 a.test TLSv1.3 http/1.1" } }
        }, "\(s.backend.requests.map(\.headers))")
        #expect(s.backend.requests.contains { $0.headers.contains { $0.name.lowercased() == "x-cipher" && $0.value.hasPrefix("TLS_") } })
        // Keep-alive over TLS: two requests on one connection.
        let two = try curlHTTPS(port: port, "/one", ca: s.certs.a.cert,
                                arguments: ["--http1.1", "https://a.test:\(port)/two"])
        #expect(two.exitCode == 0 && two.body.contains("s1 GET /two"), "\(two)")
        let log = try #require(s.weir.stdout.waitForLine { $0.contains("\"GET /hello HTTP/1.1\"") })
        // `%ft` says TLS with a `~`, as in HAProxy.
        #expect(log.contains("] fe~ be/s1 "), "\(log)")
    }

    @Test("large bodies both ways over TLS: a 3 MB download and a 1 MB upload, byte for byte")
    func largeBodies() throws {
        let big = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) }
        let backend = try HTTPBackend { request in
            if request.method == "POST" {
                return .text(200, "got \(request.body.count)\n")
            }
            return .response(status: 200, headers: [], body: .bytes(big), framing: .contentLength)
        }
        let s = try TerminationScenario(backend: backend, binds: { ["bind 127.0.0.1:0 ssl crt \($0.a.pem)"] })
        defer { s.stop() }
        let port = try s.weir.port(of: "fe")
        let out = s.certs.pki.path("download")
        let run = try runTool(curlPath, ["-s", "--max-time", "10", "--cacert", s.certs.a.cert, "--resolve", "a.test:\(port):127.0.0.1",
                                         "-o", out, "https://a.test:\(port)/big"], timeout: 15)
        #expect(run.status == 0, "\(run.stderr)")
        let downloaded = try #require(FileManager.default.contents(atPath: out))
        #expect(downloaded.count == big.count && Array(downloaded) == big)
        let upload = s.certs.pki.path("upload")
        try Data(big.prefix(1 << 20)).write(to: URL(fileURLWithPath: upload))
        let posted = try curlHTTPS(port: port, "/up", ca: s.certs.a.cert, arguments: ["--data-binary", "@" + upload])
        #expect(posted.status == 200 && posted.body == "got \(1 << 20)\n", "\(posted)")
    }

    @Test("SNI picks the exact or the wildcard certificate; an unknown name gets the first one")
    func sniSelection() throws {
        let s = try TerminationScenario(binds: { ["bind 127.0.0.1:0 ssl crt \($0.a.pem) crt \($0.wildcard)"] })
        defer { s.stop() }
        let port = try s.weir.port(of: "fe")
        #expect(try curlHTTPS(port: port, name: "a.test", ca: s.certs.a.cert).status == 200)
        #expect(try curlHTTPS(port: port, name: "x.w.test", ca: s.certs.wildcard).status == 200)
        let presented: [(serverName: String?, subject: String)] = [
            ("a.test", "a.test"), ("api.w.test", "wildcard"),
            // A wildcard covers one level only.
            ("a.b.w.test", "a.test"), ("unknown.example", "a.test"), (nil, "a.test"),
        ]
        for (serverName, subject) in presented {
            let handshake = try sClient(port: port, serverName: serverName)
            #expect(handshake.output.contains("subject=CN = \(subject)"), "\(handshake.output)")
        }
    }

    @Test("strict-sni refuses an unknown name and no name, and logs the handshake failure")
    func strictSNI() throws {
        let s = try TerminationScenario(binds: { ["bind 127.0.0.1:0 ssl crt \($0.a.pem) crt \($0.wildcard) strict-sni"] })
        defer { s.stop() }
        let port = try s.weir.port(of: "fe")
        #expect(try curlHTTPS(port: port, name: "a.test", ca: s.certs.a.cert).status == 200)
        #expect(try curlHTTPS(port: port, name: "b.w.test", ca: s.certs.wildcard).status == 200)
        let refused = try sClient(port: port, serverName: "unknown.example")
        #expect(refused.status != 0 && refused.output.contains("unrecognized name"), "\(refused.output)")
        let noName = try sClient(port: port, serverName: nil)
        #expect(noName.status != 0, "\(noName.output)")
        let log = s.weir.stdout.waitForLine { $0.contains("fe/1: SSL handshake failure") }
        #expect(log != nil, "stdout:\n\(s.weir.stdout.text)")
    }

    @Test("ALPN: the first protocol of the bind's list the client offers")
    func alpnNegotiation() throws {
        let s = try TerminationScenario(binds: { ["bind 127.0.0.1:0 ssl crt \($0.a.pem) alpn h2,http/1.1"] })
        defer { s.stop() }
        let port = try s.weir.port(of: "fe")
        let both = try sClient(port: port, serverName: "a.test", alpn: "h2,http/1.1")
        #expect(both.output.contains("ALPN protocol: http/1.1"), "\(both.output)")
        let other = try sClient(port: port, serverName: "a.test", alpn: "spdy/3")
        #expect(other.output.contains("No ALPN negotiated"), "\(other.output)")
        let r = try curlHTTPS(port: port, ca: s.certs.a.cert, arguments: ["--http1.1"])
        #expect(r.status == 200, "\(r)")
    }

    @Test("ssl-min-ver TLSv1.3 refuses a TLS 1.2 client; the default refuses TLS 1.1")
    func minimumVersion() throws {
        let s = try TerminationScenario(binds: {
            ["bind 127.0.0.1:0 ssl crt \($0.a.pem) ssl-min-ver TLSv1.3", "bind 127.0.0.1:0 ssl crt \($0.a.pem)"]
        })
        defer { s.stop() }
        let strict = try s.weir.port(of: "fe", index: 0)
        let normal = try s.weir.port(of: "fe", index: 1)
        let old = try curlHTTPS(port: strict, ca: s.certs.a.cert, arguments: ["--tls-max", "1.2"])
        #expect(old.exitCode != 0 && old.status == 0, "\(old)")
        #expect(try curlHTTPS(port: strict, ca: s.certs.a.cert, arguments: ["--tlsv1.3"]).status == 200)
        #expect(try curlHTTPS(port: normal, ca: s.certs.a.cert, arguments: ["--tls-max", "1.2"]).status == 200)
        let log = s.weir.stdout.waitForLine { $0.contains("fe/1: SSL handshake failure (") }
        #expect(log?.contains("protocol") == true, "stdout:\n\(s.weir.stdout.text)")
        let tls11 = try sClient(port: normal, serverName: "a.test", extra: ["-tls1_1"])
        #expect(tls11.status != 0, "\(tls11.output)")
    }

    @Test("no-tlsv13 and no-tlsv12 take a version out of the default range; force-tlsv13 keeps one")
    func versionToggles() throws {
        let s = try TerminationScenario(binds: {
            ["bind 127.0.0.1:0 ssl crt \($0.a.pem) no-sslv3 no-tlsv10 no-tlsv11 no-tlsv13",
             "bind 127.0.0.1:0 ssl crt \($0.a.pem) no-tlsv12",
             "bind 127.0.0.1:0 ssl crt \($0.a.pem) force-tlsv13"]
        })
        defer { s.stop() }
        let only12 = try s.weir.port(of: "fe", index: 0)
        #expect(try curlHTTPS(port: only12, ca: s.certs.a.cert, arguments: ["--tls-max", "1.2"]).status == 200)
        let refused13 = try curlHTTPS(port: only12, ca: s.certs.a.cert, arguments: ["--tlsv1.3"])
        #expect(refused13.exitCode != 0 && refused13.status == 0, "\(refused13)")
        for index in [1, 2] {
            let only13 = try s.weir.port(of: "fe", index: index)
            let refused12 = try curlHTTPS(port: only13, ca: s.certs.a.cert, arguments: ["--tls-max", "1.2"])
            #expect(refused12.exitCode != 0 && refused12.status == 0, "bind \(index): \(refused12)")
            #expect(try curlHTTPS(port: only13, ca: s.certs.a.cert, arguments: ["--tlsv1.3"]).status == 200)
        }
    }

    @Test("redirect scheme https if !{ ssl_fc }: the plain bind redirects, the ssl bind of the same frontend serves")
    func sslFcRedirect() throws {
        let s = try TerminationScenario(binds: { ["bind 127.0.0.1:0", "bind 127.0.0.1:0 ssl crt \($0.a.pem)"] },
                                        frontend: ["http-request redirect scheme https if !{ ssl_fc }"])
        defer { s.stop() }
        let plain = try s.weir.port(of: "fe", index: 0)
        let secure = try s.weir.port(of: "fe", index: 1)
        let redirected = try curlRequest(port: plain, "/x?y=1", arguments: ["-H", "Host: a.test"])
        #expect(redirected.status == 302, "\(redirected)")
        #expect(redirected.header("location") == "https://a.test/x?y=1", "\(redirected)")
        let served = try curlHTTPS(port: secure, "/x?y=1", ca: s.certs.a.cert)
        #expect(served.status == 200 && served.body.contains("s1 GET /x?y=1"), "\(served)")
    }

    @Test("a key that does not match its certificate, an unreadable file and a bad PEM are errors at file:line:col")
    func certificateErrors() throws {
        let certs = try SNICertificates()
        defer { certs.remove() }
        let junk = try certs.pki.write("not a certificate\n", to: "junk.pem")
        let missing = certs.pki.path("missing.pem")
        let run = try checkConfiguration(tlsTestConfig(frontendToServer([
            "bind 127.0.0.1:0 ssl crt \(certs.mismatched)",
            "bind 127.0.0.1:0 ssl crt \(certs.a.pem) crt \(missing)",
            "bind 127.0.0.1:0 ssl crt \(junk)",
        ], server: "127.0.0.1:9")))
        #expect(run.status == 1)
        let col2 = 35 + certs.a.pem.count
        #expect(run.stderr.contains("\(run.path):7:30: error: bind: the private key in '\(certs.mismatched)' does not match its certificate"), "\(run.stderr)")
        #expect(run.stderr.contains("\(run.path):8:\(col2): error: bind: cannot read certificate '\(missing)': No such file or directory"), "\(run.stderr)")
        #expect(run.stderr.contains("\(run.path):9:30: error: bind: '\(junk)' holds no valid PEM certificate (no start line)"), "\(run.stderr)")
    }

    @Test("a client that connects and sends nothing delays no one and is closed by timeout client-hs")
    func silentClientTimesOut() throws {
        let s = try TerminationScenario(binds: { ["bind 127.0.0.1:0 ssl crt \($0.a.pem)"] }, defaults: ["timeout client-hs 1s"])
        defer { s.stop() }
        let port = try s.weir.port(of: "fe")
        let silent = try HTTPConnection(port: port, ioTimeout: 5)
        defer { silent.close() }
        let start = Date()
        for _ in 0..<3 {
            let r = try curlHTTPS(port: port, ca: s.certs.a.cert)
            #expect(r.status == 200, "\(r)")
        }
        #expect(Date().timeIntervalSince(start) < 0.9, "other clients waited behind the silent one")
        #expect(silent.isClosedByPeer(within: 3))
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed >= 0.8 && elapsed < 3, "closed after \(elapsed)s")
        let log = s.weir.stdout.waitForLine { $0.contains("fe/1: Timeout during SSL handshake") }
        #expect(log != nil, "stdout:\n\(s.weir.stdout.text)")
    }

    @Test("mode tcp: TLS terminated in front of an echo backend, 200 kB each way")
    func tcpTermination() throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let a = try pki.aTest()
        let python = try #require(pythonPath)
        let echo = try Backend(.echo)
        defer { echo.stop() }
        let weir = try WeirProcess.start(config: tlsTestConfig(mode: "tcp", frontendToServer([
            "bind 127.0.0.1:0 ssl crt \(a.pem) alpn echo/1",
        ], server: echo.address)))
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
        let run = try runTool(python, ["-c", script, a.cert, String(port)], timeout: 15)
        #expect(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "204800 True TLSv1.3 echo/1",
                "\(run.stdout) \(run.stderr)")
    }

    @Test("mode tcp: use_backend by ssl_fc_sni after termination; the tcplog says fe~")
    func tcpRoutingBySNI() throws {
        let certs = try SNICertificates()
        defer { certs.remove() }
        let python = try #require(pythonPath)
        let one = try Backend(.name("one"))
        defer { one.stop() }
        let two = try Backend(.name("two"))
        defer { two.stop() }
        let weir = try WeirProcess.start(config: tlsTestConfig(mode: "tcp", log: .tcplog, """
            frontend fe
                bind 127.0.0.1:0 ssl crt \(certs.a.pem) crt \(certs.wildcard)
                use_backend two if { ssl_fc_sni -m end .w.test }
                default_backend one
            backend one
                server s1 \(one.address)
            backend two
                server s2 \(two.address)
            """))
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
        let a = try runTool(python, ["-c", script, certs.a.cert, String(port), "a.test"], timeout: 10)
        #expect(a.stdout == "one\n", "\(a.stdout) \(a.stderr)")
        let w = try runTool(python, ["-c", script, certs.wildcard, String(port), "api.w.test"], timeout: 10)
        #expect(w.stdout == "two\n", "\(w.stdout) \(w.stderr)")
        let log = weir.stdout.waitForLine { $0.contains(" fe~ two/s2 ") }
        #expect(log != nil, "stdout:\n\(weir.stdout.text)")
    }

    @Test("master and 2 workers: HTTPS served; a reload with a mismatched key fails and the old workers keep serving; a renewed certificate is picked up")
    func reloadKeepsServingOnBadCertificate() throws {
        let certs = try SNICertificates()
        defer { certs.remove() }
        // The served file is a copy the test replaces, as a renewal would.
        let served = certs.pki.path("served.pem")
        try FileManager.default.copyItem(atPath: certs.a.pem, toPath: served)
        let h = try MasterHarness(config: tlsTestConfig(global: ["nbthread 2"], """
            frontend fe
                bind 127.0.0.1:0
                bind 127.0.0.1:0 ssl crt \(served)
                http-request return status 200 content-type text/plain lf-string "tls=%[ssl_fc]\\n"
            """))
        defer { h.close() }
        let plain = try h.master.port(of: "fe", index: 0)
        let secure = try h.master.port(of: "fe", index: 1)
        for _ in 0..<4 {
            let r = try curlHTTPS(port: secure, ca: certs.a.cert)
            #expect(r.status == 200 && r.body == "tls=1\n", "\(r)")
        }
        #expect(try curlRequest(port: plain, "/").body == "tls=0\n")

        try FileManager.default.removeItem(atPath: served)
        try FileManager.default.copyItem(atPath: certs.mismatched, toPath: served)
        let (success, answer) = try h.reload()
        #expect(!success, "\(answer)")
        #expect(answer.contains("weir.cfg:10:30: error: bind: the private key in '\(served)' does not match its certificate"),
                "\(answer)")
        #expect(try curlHTTPS(port: secure, ca: certs.a.cert).status == 200)

        // A renewed certificate (here another name) takes effect on reload.
        try FileManager.default.removeItem(atPath: served)
        try FileManager.default.copyItem(atPath: certs.wildcard, toPath: served)
        try FileManager.default.copyItem(atPath: certs.wildcard + ".key", toPath: served + ".key")
        let (renewed, renewedAnswer) = try h.reload()
        #expect(renewed, "\(renewedAnswer)")
        let after = try curlHTTPS(port: secure, name: "x.w.test", ca: certs.wildcard)
        #expect(after.status == 200 && after.body == "tls=1\n", "\(after)")
    }
}
