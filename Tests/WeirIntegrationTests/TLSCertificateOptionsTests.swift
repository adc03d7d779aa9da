import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `openssl s_client` to `name` with `extra` arguments: its whole output.
private func handshake(_ port: UInt16, _ name: String, _ extra: [String] = []) throws -> String {
    try sClient(port: port, serverName: name, extra: extra).output
}

@Suite("TLS certificate options", .serialized, .enabled(if: hasCurl && hasOpenSSL))
struct TLSCertificateOptionsTests {
    @Test("crt-list: SNI filters replace the certificate's names, wildcards, !exclusions, per-line alpn, ssl-min-ver, curves and ciphersuites, crt-base")
    func crtListFiltersAndOptions() throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        _ = try pki.selfSigned("default", names: ["default.test"])
        let api = try pki.selfSigned("api", names: ["api.test", "other.test"])
        let wild = try pki.selfSigned("wild", names: ["*.w.test"])
        let list = try pki.write("""
            # the first line is the default certificate

            default.pem
            api.pem [alpn echo/1 ssl-min-ver TLSv1.3 curves P-384 ciphersuites TLS_CHACHA20_POLY1305_SHA256] api.test alias.test
            \(wild.pem) *.w.test !secret.w.test
            """, to: "list.txt")
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: tlsHTTPConfig(binds: ["bind 127.0.0.1:0 ssl crt-list \(list)"], backend: backend,
                                                               global: ["crt-base \(pki.dir)"]))
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
        let apiHandshake = try handshake(port, "api.test")
        #expect(apiHandshake.contains("Server Temp Key: ECDH, secp384r1") && apiHandshake.contains("Cipher is TLS_CHACHA20_POLY1305_SHA256"),
                "\(apiHandshake)")
        let plain = try handshake(port, "default.test")
        #expect(plain.contains("Server Temp Key: X25519") && !plain.contains("CHACHA20"), "\(plain)")
        let old = try sClient(port: port, serverName: "api.test", extra: ["-tls1_2"])
        #expect(old.status != 0 && old.output.contains("protocol version"), "\(old.output)")
        let fine = try sClient(port: port, serverName: "default.test", extra: ["-tls1_2"])
        #expect(fine.status == 0 && fine.output.contains("Protocol  : TLSv1.2"), "\(fine.output)")
        let r = try curlHTTPS(port: port, name: "api.test", ca: api.cert)
        #expect(r.status == 200, "\(r)")
    }

    @Test("crt-list errors name the list's file and line at the crt-list argument")
    func crtListErrors() throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        _ = try pki.selfSigned("a", names: ["a.test"])
        let list = try pki.write("a.pem\nb.pem [ciphers]\na.pem [bogus x]\n", to: "crt-list.txt")
        let config = tlsTestConfig(global: ["crt-base \(pki.dir)"],
                                   frontendToServer(["bind 127.0.0.1:0 ssl crt-list \(list)"], server: "127.0.0.1:9"))
        let run = try checkConfiguration(config)
        #expect(run.status == 1)
        #expect(run.stderr.contains("\(run.path):9:35: error: \(list):2: 'ciphers' expects a value inside the brackets"),
                "\(run.stderr)")
        #expect(run.stderr.contains("\(run.path):9:35: error: \(list):3: unknown crt-list option 'bogus'"), "\(run.stderr)")
        // A certificate that cannot be read: its list line, once the list parses.
        try pki.write("a.pem\nmissing.pem api.test\n", to: "crt-list.txt")
        let missing = try checkConfiguration(config)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("\(missing.path):9:35: error: \(list):2: cannot read certificate "
                                        + "'\(pki.path("missing.pem"))': No such file or directory"), "\(missing.stderr)")
    }

    @Test("an ECDSA and an RSA certificate for one name: OpenSSL picks by the client's signature algorithms and ciphers; site.pem.{ecdsa,rsa} bundles too")
    func ecdsaAndRSAForOneName() throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let ec = try pki.selfSigned("ec", names: ["both.test"])
        let rsa = try pki.selfSigned("rsa", names: ["both.test"], key: .rsa)
        try pki.bundle([ec.pem], into: "site.pem.ecdsa")
        try pki.bundle([rsa.pem], into: "site.pem.rsa")
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: tlsHTTPConfig(binds: [
            "bind 127.0.0.1:0 ssl crt \(ec.pem) crt \(rsa.pem)",
            "bind 127.0.0.1:0 ssl crt \(pki.path("site.pem"))",
        ], backend: backend))
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
        #expect(try curlHTTPS(port: try weir.port(of: "fe"), name: "both.test", ca: ec.cert).status == 200)
    }

    @Test("curves, sigalgs, no-tls-tickets, prefer-client-ciphers and ssl-dh-param-file change the handshake")
    func handshakeOptions() throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let ec = try pki.selfSigned("ec", names: ["a.test"]).pem
        let rsa = try pki.selfSigned("rsa", names: ["a.test"], key: .rsa).pem
        let dh = pki.path("dh.pem")
        try pki.openssl(["genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "dh_param:ffdhe2048", "-out", dh])
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256"
        let binds = [
            "bind 127.0.0.1:0 ssl crt \(ec) ciphers \(ciphers)",
            "bind 127.0.0.1:0 ssl crt \(ec) curves P-521 sigalgs ECDSA+SHA384 no-tls-tickets prefer-client-ciphers ciphers \(ciphers)",
            "bind 127.0.0.1:0 ssl crt \(rsa) ciphers DHE-RSA-AES128-GCM-SHA256",
        ]
        let weir = try WeirProcess.start(config: tlsHTTPConfig(binds: binds, backend: backend, global: [
            "ssl-dh-param-file \(dh)",
            "ssl-default-bind-curves P-384:X25519",
        ]))
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
        let pki = try TestPKI()
        defer { pki.remove() }
        let ec = try pki.selfSigned("ec", names: ["a.test"]).pem
        let junk = try pki.write("not parameters\n", to: "junk.pem")
        func check(global: String, bind: String) throws -> (status: Int32, stderr: String, path: String) {
            try checkConfiguration(tlsTestConfig(global: [global],
                                                 frontendToServer(["bind 127.0.0.1:0 ssl crt \(ec) \(bind)"], server: "127.0.0.1:9")))
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
        let missing = try check(global: "ssl-dh-param-file \(pki.path("none.pem"))", bind: "")
        #expect(missing.status == 1 && missing.stderr.contains("cannot load DH parameters from '\(pki.path("none.pem"))'"),
                "\(missing.stderr)")
    }

    @Test("OCSP stapling from CERT.ocsp (a real response made with openssl ocsp); a malformed one is a warning")
    func ocspStapling() throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let ca = try pki.authority("ca", subject: "/CN=Weir Test CA")
        let server = try pki.signed("srv", subject: "/CN=ocsp.test", by: ca, extensions: ["subjectAltName=DNS:ocsp.test"])
        let chained = try pki.bundle([server.cert, ca.cert, server.key], into: "srv-chain.pem")
        try pki.ocspResponse(for: server, issuer: ca, to: chained + ".ocsp")
        // A second certificate without its chain: the issuer comes from CERT.issuer.
        let alone = try pki.signed("alone", subject: "/CN=alone.test", by: ca, extensions: ["subjectAltName=DNS:alone.test"])
        try pki.bundle([ca.cert], into: "alone.pem.issuer")
        try pki.ocspResponse(for: alone, issuer: ca, to: alone.pem + ".ocsp")
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: tlsHTTPConfig(binds: ["bind 127.0.0.1:0 ssl crt \(chained) crt \(alone.pem)"],
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
        let run = try checkConfiguration(tlsHTTPConfig(binds: ["bind 127.0.0.1:0 ssl crt \(chained)"], backend: backend))
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
        let pki = try TestPKI()
        defer { pki.remove() }
        let old = try pki.selfSigned("old", names: ["site.test"])
        let new = try pki.selfSigned("new", names: ["site.test", "renewed.site.test"])
        let served = try pki.bundle([old.pem], into: "site.pem")
        let oldSerial = try pki.serial(of: old.cert)
        let newSerial = try pki.serial(of: new.cert)
        #expect(oldSerial != newSerial)
        let h = try MasterHarness(config: tlsTestConfig(global: ["nbthread 2"], """
            frontend fe
                bind 127.0.0.1:0 ssl crt \(served)
                http-request return status 200 content-type text/plain lf-string "ok\\n"
            """))
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        /// The serial of the certificate a new connection gets.
        func presented() throws -> String {
            let out = try handshake(port, "site.test", ["-showcerts"])
            guard let begin = out.range(of: "-----BEGIN CERTIFICATE-----"),
                  let end = out.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<out.endIndex) else { return out }
            let pem = try pki.write(String(out[begin.lowerBound..<end.upperBound] + "\n"), to: "presented.pem")
            return try pki.serial(of: pem)
        }
        for _ in 0..<3 { #expect(try presented() == oldSerial) }
        // Overwritten in place, as a renewal job would.
        try Data(contentsOf: URL(fileURLWithPath: new.pem)).write(to: URL(fileURLWithPath: served))
        #expect(try presented() == oldSerial, "nothing changes before the reload")
        let (success, answer) = try h.reload()
        #expect(success, "\(answer)")
        for _ in 0..<3 { #expect(try presented() == newSerial) }
        let r = try curlHTTPS(port: port, name: "renewed.site.test", ca: new.cert)
        #expect(r.status == 200 && r.body == "ok\n", "\(r)")
    }
}
