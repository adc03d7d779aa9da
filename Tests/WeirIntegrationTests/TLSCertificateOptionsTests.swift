import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Certificates made with the `openssl` CLI in a temporary directory for
/// these tests: self-signed RSA-2048 or ECDSA P-256 ones, a CA, certificates
/// it signs, and OCSP responses about them.
final class CertificateFactory: @unchecked Sendable {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "weir-certs-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }

    /// Runs `openssl arguments` in `dir`; its standard output.
    @discardableResult
    func openssl(_ arguments: [String]) throws -> String {
        let run = try runTool(opensslPath, arguments, timeout: 30)
        guard run.status == 0 else {
            throw WeirProcess.SpawnFailure(description: "openssl \(arguments.joined(separator: " ")): \(run.stderr)")
        }
        return run.stdout
    }

    private func keyArguments(rsa: Bool) -> [String] {
        rsa ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    }

    /// A self-signed certificate for `names` (the first is the CN): `NAME.crt`,
    /// `NAME.key`, and `NAME.pem` (both), whose path it returns.
    @discardableResult
    func selfSigned(_ name: String, names: [String], rsa: Bool = false) throws -> String {
        try openssl(["req", "-x509"] + keyArguments(rsa: rsa) + [
            "-nodes", "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).crt", "-days", "2",
            "-subj", "/CN=\(names[0])", "-addext", "subjectAltName=" + names.map { "DNS:" + $0 }.joined(separator: ","),
        ])
        return try concatenate(["\(name).crt", "\(name).key"], into: "\(name).pem")
    }

    /// `ca.crt` and `ca.key`: an RSA-2048 CA.
    func makeCA() throws {
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/ca.key", "-out", "\(dir)/ca.crt",
                     "-days", "2", "-subj", "/CN=Weir Test CA"])
    }

    /// A certificate for `cn` signed by the CA: `NAME.crt`, `NAME.key`, and
    /// `NAME.pem` (certificate, CA certificate, key) whose path it returns.
    @discardableResult
    func caSigned(_ name: String, cn: String) throws -> String {
        try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).csr",
                     "-subj", "/CN=\(cn)"])
        try "subjectAltName=DNS:\(cn)\n".write(toFile: "\(dir)/\(name).ext", atomically: true, encoding: .utf8)
        try openssl(["x509", "-req", "-in", "\(dir)/\(name).csr", "-CA", "\(dir)/ca.crt", "-CAkey", "\(dir)/ca.key",
                     "-CAcreateserial", "-out", "\(dir)/\(name).crt", "-days", "2", "-extfile", "\(dir)/\(name).ext"])
        return try concatenate(["\(name).crt", "ca.crt", "\(name).key"], into: "\(name).pem")
    }

    /// A DER OCSP response saying `NAME.crt` is good, signed by the CA, valid a day, written to `path`.
    func ocspResponse(for name: String, to path: String) throws {
        let number = try serial(of: "\(dir)/\(name).crt")
        // index.txt: status, expiry (YYMMDDHHMMSSZ), revocation, serial, file, subject.
        try "V\t301231235959Z\t\t\(number)\tunknown\t/CN=\(name)\n"
            .write(toFile: "\(dir)/index.txt", atomically: true, encoding: .utf8)
        try openssl(["ocsp", "-issuer", "\(dir)/ca.crt", "-cert", "\(dir)/\(name).crt", "-no_nonce",
                     "-reqout", "\(dir)/\(name).req"])
        try openssl(["ocsp", "-index", "\(dir)/index.txt", "-rsigner", "\(dir)/ca.crt", "-rkey", "\(dir)/ca.key",
                     "-CA", "\(dir)/ca.crt", "-reqin", "\(dir)/\(name).req", "-respout", path, "-ndays", "1"])
    }

    /// The serial number (hex) of the first certificate in the PEM file at `path`.
    func serial(of path: String) throws -> String {
        try openssl(["x509", "-in", path, "-noout", "-serial"])
            .trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "serial=", with: "")
    }

    /// The files of `dir` named `parts`, end to end, in `dir/name`; its path.
    @discardableResult
    func concatenate(_ parts: [String], into name: String) throws -> String {
        var text = ""
        for part in parts { text += try String(contentsOfFile: "\(dir)/\(part)", encoding: .utf8) }
        try text.write(toFile: "\(dir)/\(name)", atomically: true, encoding: .utf8)
        return "\(dir)/\(name)"
    }
}

/// `config` (which starts with its `global` line) with `lines` added to its `global` section.
private func withGlobal(_ lines: String, _ config: String) -> String {
    "global\n" + lines + "\n" + config.dropFirst("global\n".count)
}

/// `openssl s_client` to `name` with `extra` arguments: its whole output.
private func handshake(_ port: UInt16, _ name: String, _ extra: [String] = []) throws -> String {
    try sClient(port: port, serverName: name, extra: extra).output
}

@Suite("TLS certificate options", .serialized, .enabled(if: hasCurl && hasOpenSSL))
struct TLSCertificateOptionsTests {
    @Test("crt-list: SNI filters replace the certificate's names, wildcards, !exclusions, per-line alpn, ssl-min-ver, curves and ciphersuites, crt-base")
    func crtListFiltersAndOptions() throws {
        let certs = try CertificateFactory()
        defer { certs.remove() }
        try certs.selfSigned("default", names: ["default.test"])
        try certs.selfSigned("api", names: ["api.test", "other.test"])
        try certs.selfSigned("wild", names: ["*.w.test"])
        try """
            # the first line is the default certificate

            default.pem
            api.pem [alpn echo/1 ssl-min-ver TLSv1.3 curves P-384 ciphersuites TLS_CHACHA20_POLY1305_SHA256] api.test alias.test
            \(certs.dir)/wild.pem *.w.test !secret.w.test
            """.write(toFile: certs.dir + "/list.txt", atomically: true, encoding: .utf8)
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: withGlobal("    crt-base \(certs.dir)", tlsHTTPConfig(
            binds: "    bind 127.0.0.1:0 ssl crt-list \(certs.dir)/list.txt", backend: backend)))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        #expect(try handshake(port, "api.test").contains("subject=CN = api.test"))
        #expect(try handshake(port, "alias.test").contains("subject=CN = api.test"))
        // The filters replace the certificate's own names.
        #expect(try handshake(port, "other.test").contains("subject=CN = default.test"))
        #expect(try handshake(port, "x.w.test").contains("subject=CN = *.w.test"))
        #expect(try handshake(port, "secret.w.test").contains("subject=CN = default.test"))
        // The line's options: its ALPN list and its minimum version.
        let alpn = try sClient(port: port, serverName: "alias.test", alpn: "echo/1").output
        #expect(alpn.contains("ALPN protocol: echo/1"), "\(alpn)")
        #expect(try sClient(port: port, serverName: "default.test", alpn: "echo/1").output.contains("No ALPN negotiated"))
        let api = try handshake(port, "api.test")
        #expect(api.contains("Server Temp Key: ECDH, secp384r1") && api.contains("Cipher is TLS_CHACHA20_POLY1305_SHA256"),
                "\(api)")
        let plain = try handshake(port, "default.test")
        #expect(plain.contains("Server Temp Key: X25519") && !plain.contains("CHACHA20"), "\(plain)")
        let old = try sClient(port: port, serverName: "api.test", extra: ["-tls1_2"])
        #expect(old.status != 0 && old.output.contains("protocol version"), "\(old.output)")
        let fine = try sClient(port: port, serverName: "default.test", extra: ["-tls1_2"])
        #expect(fine.status == 0 && fine.output.contains("Protocol  : TLSv1.2"), "\(fine.output)")
        let r = try curlHTTPS(port: port, name: "api.test", ca: certs.dir + "/api.crt")
        #expect(r.status == 200, "\(r)")
    }

    @Test("crt-list errors name the list's file and line at the crt-list argument")
    func crtListErrors() throws {
        let certs = try CertificateFactory()
        defer { certs.remove() }
        try certs.selfSigned("a", names: ["a.test"])
        let list = certs.dir + "/crt-list.txt"
        try "a.pem\nb.pem [ciphers]\na.pem [bogus x]\n".write(toFile: list, atomically: true, encoding: .utf8)
        let file = try TempFile("""
            global
                crt-base \(certs.dir)
            defaults
                mode http
                timeout connect 2s
                timeout client 10s
                timeout server 10s
            frontend fe
                bind 127.0.0.1:0 ssl crt-list \(list)
                default_backend be
            backend be
                server s1 127.0.0.1:9
            """)
        defer { file.remove() }
        let run = try WeirProcess.run(["-c", "-f", file.path])
        #expect(run.status == 1)
        #expect(run.stderr.contains("\(file.path):9:35: error: \(list):2: 'ciphers' expects a value inside the brackets"),
                "\(run.stderr)")
        #expect(run.stderr.contains("\(file.path):9:35: error: \(list):3: unknown crt-list option 'bogus'"), "\(run.stderr)")
        // A certificate that cannot be read: its list line, once the list parses.
        try "a.pem\nmissing.pem api.test\n".write(toFile: list, atomically: true, encoding: .utf8)
        let missing = try WeirProcess.run(["-c", "-f", file.path])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("\(file.path):9:35: error: \(list):2: cannot read certificate "
                                        + "'\(certs.dir)/missing.pem': No such file or directory"), "\(missing.stderr)")
    }

    @Test("an ECDSA and an RSA certificate for one name: OpenSSL picks by the client's signature algorithms and ciphers; site.pem.{ecdsa,rsa} bundles too")
    func ecdsaAndRSAForOneName() throws {
        let certs = try CertificateFactory()
        defer { certs.remove() }
        try certs.selfSigned("ec", names: ["both.test"])
        try certs.selfSigned("rsa", names: ["both.test"], rsa: true)
        try FileManager.default.copyItem(atPath: certs.dir + "/ec.pem", toPath: certs.dir + "/site.pem.ecdsa")
        try FileManager.default.copyItem(atPath: certs.dir + "/rsa.pem", toPath: certs.dir + "/site.pem.rsa")
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: tlsHTTPConfig(binds: """
                bind 127.0.0.1:0 ssl crt \(certs.dir)/ec.pem crt \(certs.dir)/rsa.pem
                bind 127.0.0.1:0 ssl crt \(certs.dir)/site.pem
            """, backend: backend))
        defer { weir.stop() }
        for index in 0..<2 {
            let port = try weir.port(of: "fe", index: index)
            let modern = try handshake(port, "both.test")
            #expect(modern.contains("Peer signature type: ECDSA") && modern.contains("Server public key is 256 bit"), "\(modern)")
            let rsaOnly = try handshake(port, "both.test", ["-sigalgs", "RSA-PSS+SHA256:rsa_pkcs1_sha256"])
            #expect(rsaOnly.contains("Server public key is 2048 bit"), "\(rsaOnly)")
            let rsaCipher = try handshake(port, "both.test", ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"])
            #expect(rsaCipher.contains("Server public key is 2048 bit")
                    && rsaCipher.contains("Cipher is ECDHE-RSA-AES128-GCM-SHA256"), "\(rsaCipher)")
            let noName = try sClient(port: port, serverName: nil).output
            #expect(noName.contains("Server public key is 256 bit"), "\(noName)")
        }
        #expect(try curlHTTPS(port: try weir.port(of: "fe"), name: "both.test", ca: certs.dir + "/ec.crt").status == 200)
    }

    @Test("curves, sigalgs, no-tls-tickets, prefer-client-ciphers and ssl-dh-param-file change the handshake")
    func handshakeOptions() throws {
        let certs = try CertificateFactory()
        defer { certs.remove() }
        let ec = try certs.selfSigned("ec", names: ["a.test"])
        let rsa = try certs.selfSigned("rsa", names: ["a.test"], rsa: true)
        let dh = certs.dir + "/dh.pem"
        try certs.openssl(["genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "dh_param:ffdhe2048", "-out", dh])
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256"
        let binds = """
                bind 127.0.0.1:0 ssl crt \(ec) ciphers \(ciphers)
                bind 127.0.0.1:0 ssl crt \(ec) curves P-521 sigalgs ECDSA+SHA384 no-tls-tickets prefer-client-ciphers ciphers \(ciphers)
                bind 127.0.0.1:0 ssl crt \(rsa) ciphers DHE-RSA-AES128-GCM-SHA256
            """
        let weir = try WeirProcess.start(config: withGlobal("""
                ssl-dh-param-file \(dh)
                ssl-default-bind-curves P-384:X25519
            """, tlsHTTPConfig(binds: binds, backend: backend)))
        defer { weir.stop() }
        let plain = try weir.port(of: "fe", index: 0)
        let tuned = try weir.port(of: "fe", index: 1)
        let dhe = try weir.port(of: "fe", index: 2)
        let clientOrder = ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"]
        let first = try handshake(plain, "a.test", clientOrder)
        #expect(first.contains("Server Temp Key: ECDH, secp384r1"), "\(first)")
        #expect(first.contains("Cipher is ECDHE-ECDSA-AES256-GCM-SHA384"), "server order: \(first)")
        #expect(first.contains("TLS session ticket lifetime hint"), "\(first)")
        #expect(first.contains("Peer signing digest: SHA256"), "\(first)")
        let second = try handshake(tuned, "a.test", clientOrder)
        #expect(second.contains("Server Temp Key: ECDH, secp521r1"), "\(second)")
        #expect(second.contains("Cipher is ECDHE-ECDSA-AES128-GCM-SHA256"), "client order: \(second)")
        #expect(!second.contains("TLS session ticket lifetime hint"), "\(second)")
        #expect(second.contains("Peer signing digest: SHA384"), "\(second)")
        let third = try handshake(dhe, "a.test", ["-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256"])
        #expect(third.contains("Cipher is DHE-RSA-AES128-GCM-SHA256") && third.contains("Server Temp Key: DH, 2048 bits"),
                "\(third)")
    }

    @Test("an unknown curve or signature algorithm and a bad ssl-dh-param-file are errors at file:line:col")
    func handshakeOptionErrors() throws {
        let certs = try CertificateFactory()
        defer { certs.remove() }
        let ec = try certs.selfSigned("ec", names: ["a.test"])
        let junk = certs.dir + "/junk.pem"
        try "not parameters\n".write(toFile: junk, atomically: true, encoding: .utf8)
        func check(global: String, bind: String) throws -> (status: Int32, stderr: String, path: String) {
            let file = try TempFile("""
                global
                    \(global)
                defaults
                    mode http
                    timeout connect 2s
                    timeout client 10s
                    timeout server 10s
                frontend fe
                    bind 127.0.0.1:0 ssl crt \(ec) \(bind)
                    default_backend be
                backend be
                    server s1 127.0.0.1:9
                """)
            defer { file.remove() }
            let run = try WeirProcess.run(["-c", "-f", file.path])
            return (run.status, run.stderr, file.path)
        }
        let column = 31 + ec.count
        let curve = try check(global: "maxconn 10", bind: "curves X25519:P-999")
        #expect(curve.status == 1)
        #expect(curve.stderr.contains("\(curve.path):9:\(column + 7): error: bind: unknown curve 'P-999' in 'curves X25519:P-999'"),
                "\(curve.stderr)")
        let sigalg = try check(global: "ssl-default-bind-sigalgs ECDSA+SHA256:NOPE+SHA1", bind: "")
        #expect(sigalg.status == 1)
        #expect(sigalg.stderr.contains("\(sigalg.path):2:30: error: bind: unknown signature algorithm 'NOPE+SHA1' in "
                                       + "'sigalgs ECDSA+SHA256:NOPE+SHA1'"), "\(sigalg.stderr)")
        let dh = try check(global: "ssl-dh-param-file \(junk)", bind: "")
        #expect(dh.status == 1)
        #expect(dh.stderr.contains("\(dh.path):2:23: error: ssl-dh-param-file: cannot load DH parameters from '\(junk)'"),
                "\(dh.stderr)")
        let missing = try check(global: "ssl-dh-param-file \(certs.dir)/none.pem", bind: "")
        #expect(missing.status == 1 && missing.stderr.contains("cannot load DH parameters from '\(certs.dir)/none.pem'"),
                "\(missing.stderr)")
    }

    @Test("OCSP stapling from CERT.ocsp (a real response made with openssl ocsp); a malformed one is a warning")
    func ocspStapling() throws {
        let certs = try CertificateFactory()
        defer { certs.remove() }
        try certs.makeCA()
        let chained = try certs.caSigned("srv", cn: "ocsp.test")
        try certs.ocspResponse(for: "srv", to: chained + ".ocsp")
        // A second certificate without its chain: the issuer comes from CERT.issuer.
        try certs.caSigned("alone", cn: "alone.test")
        let alone = try certs.concatenate(["alone.crt", "alone.key"], into: "alone-leaf.pem")
        try FileManager.default.copyItem(atPath: certs.dir + "/ca.crt", toPath: alone + ".issuer")
        try certs.ocspResponse(for: "alone", to: alone + ".ocsp")
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: tlsHTTPConfig(binds: "    bind 127.0.0.1:0 ssl crt \(chained) crt \(alone)",
                                                               backend: backend))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        for name in ["ocsp.test", "alone.test"] {
            let stapled = try handshake(port, name, ["-status"])
            #expect(stapled.contains("OCSP Response Status: successful"), "\(stapled)")
            #expect(stapled.contains("Cert Status: good"), "\(stapled)")
        }
        #expect(!(try handshake(port, "ocsp.test")).contains("OCSP Response Status"))

        try Data([0x30, 0x03, 0x0a, 0x01]).write(to: URL(fileURLWithPath: chained + ".ocsp"))
        let file = try TempFile(tlsHTTPConfig(binds: "    bind 127.0.0.1:0 ssl crt \(chained)", backend: backend))
        defer { file.remove() }
        let run = try WeirProcess.run(["-c", "-f", file.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("warning: bind: the OCSP response in '\(chained).ocsp' is not stapled: not a DER OCSP response"),
                "\(run.stderr)")
    }

    @Test("weir -vv names the OpenSSL it was built with and the one it runs on")
    func opensslVersions() throws {
        let run = try WeirProcess.run(["-vv"])
        #expect(run.status == 0)
        let cli = try runTool(opensslPath, ["version"], timeout: 10).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // `OpenSSL 3.0.x DATE (Library: OpenSSL 3.0.x DATE)`: the library's own version is the running one.
        let library = cli.range(of: "(Library: ").map { String(cli[$0.upperBound...].dropLast()) } ?? cli
        #expect(run.stdout.contains("Running on OpenSSL version : \(library)\n"), "\(run.stdout) / \(cli)")
        let built = run.stdout.split(separator: "\n").first { $0.contains("Built with OpenSSL version : OpenSSL 3.") }
        #expect(built != nil, "\(run.stdout)")
    }

    @Test("a reload reads a renewed certificate file: new connections get the new certificate")
    func reloadPicksUpRenewedCertificate() throws {
        let certs = try CertificateFactory()
        defer { certs.remove() }
        try certs.selfSigned("old", names: ["site.test"])
        try certs.selfSigned("new", names: ["site.test", "renewed.site.test"])
        let served = certs.dir + "/site.pem"
        try FileManager.default.copyItem(atPath: certs.dir + "/old.pem", toPath: served)
        let oldSerial = try certs.serial(of: certs.dir + "/old.crt")
        let newSerial = try certs.serial(of: certs.dir + "/new.crt")
        #expect(oldSerial != newSerial)
        let h = try MasterHarness(config: """
            global
                nbthread 2
            defaults
                mode http
                timeout connect 2s
                timeout client 10s
                timeout server 10s
            frontend fe
                bind 127.0.0.1:0 ssl crt \(served)
                http-request return status 200 content-type text/plain lf-string "ok\\n"
            """)
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        /// The serial of the certificate a new connection gets.
        func presented() throws -> String {
            let out = try handshake(port, "site.test", ["-showcerts"])
            guard let begin = out.range(of: "-----BEGIN CERTIFICATE-----"),
                  let end = out.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<out.endIndex) else { return out }
            let pem = certs.dir + "/presented.pem"
            try String(out[begin.lowerBound..<end.upperBound] + "\n").write(toFile: pem, atomically: true, encoding: .utf8)
            return try certs.serial(of: pem)
        }
        for _ in 0..<3 { #expect(try presented() == oldSerial) }
        // Overwritten in place, as a renewal job would.
        try Data(contentsOf: URL(fileURLWithPath: certs.dir + "/new.pem")).write(to: URL(fileURLWithPath: served))
        #expect(try presented() == oldSerial, "nothing changes before the reload")
        let (success, answer) = try h.reload()
        #expect(success, "\(answer)")
        for _ in 0..<3 { #expect(try presented() == newSerial) }
        let r = try curlHTTPS(port: port, name: "renewed.site.test", ca: certs.dir + "/new.crt")
        #expect(r.status == 200 && r.body == "ok\n", "\(r)")
    }
}
