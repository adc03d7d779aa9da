import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The PKI of these tests: a client CA, a client certificate it signed, one
/// it signed and then revoked (with the CA's CRL), a client certificate of
/// another CA, and the server's own certificate.
private struct ClientCertificates {
    let pki: TestPKI
    /// The client CA (RSA), trusted by `ca-file`; `ca.crt` in the directory.
    let ca: TestCertificate
    /// Signed by `ca`: subject /C=FR/O=Weir Test/OU=Dev/OU=Ops/CN=client1, serial 0x1234ABCD.
    let client: TestCertificate
    /// Signed by `ca`, revoked in `crl`.
    let revoked: TestCertificate
    /// Signed by another CA.
    let rogue: TestCertificate
    /// The CRL of `ca`; `crl.pem` in the directory.
    let crl: String
    /// The server's self-signed certificate for `a.test` (ECDSA P-256), subject /C=FR/CN=a.test.
    let server: TestCertificate

    static let clientExtensions = ["basicConstraints=CA:FALSE", "extendedKeyUsage=clientAuth"]

    init() throws {
        pki = try TestPKI()
        ca = try pki.authority("ca", subject: "/C=FR/O=Weir Test/CN=Weir Test CA")
        let other = try pki.authority("other", subject: "/CN=Other CA")
        client = try pki.signed("client", subject: "/C=FR/O=Weir Test/OU=Dev/OU=Ops/CN=client1", by: ca,
                                extensions: Self.clientExtensions, serial: "0x1234ABCD")
        revoked = try pki.signed("revoked", subject: "/CN=revoked", by: ca, extensions: Self.clientExtensions, serial: "99")
        rogue = try pki.signed("rogue", subject: "/CN=rogue", by: other, extensions: Self.clientExtensions, serial: "7")
        server = try pki.selfSigned("server", subject: "/C=FR/CN=a.test", names: ["a.test"])
        crl = try pki.revocationList(of: ca, revoking: [revoked])
    }

    /// An intermediate CA signed by `ca`, and a client certificate it signed
    /// whose certificate file holds the intermediate too.
    func intermediateChain() throws -> (leaf: TestCertificate, intermediate: TestCertificate) {
        let intermediate = try pki.signed("intermediate", subject: "/CN=Intermediate", by: ca,
                                          extensions: ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"],
                                          serial: "5")
        let leaf = try pki.signed("leaf", subject: "/CN=leaf", by: intermediate, extensions: Self.clientExtensions, serial: "6")
        let chain = try pki.bundle([leaf.cert, intermediate.cert], into: "leaf-chain.crt")
        let pem = try pki.bundle([chain, leaf.key], into: "leaf-chain.pem")
        return (TestCertificate(cert: chain, key: leaf.key, pem: pem), intermediate)
    }

    func remove() { pki.remove() }
}

/// `curl https://a.test:PORT/PATH` trusting the server's certificate, with
/// a client certificate when one is given.
private func curlMTLS(port: UInt16, _ path: String = "/", certs: ClientCertificates,
                      certificate: TestCertificate? = nil) throws -> CurlResponse {
    let arguments = certificate.map { ["--cert", $0.cert, "--key", $0.key] } ?? []
    return try curlHTTPS(port: port, path, ca: certs.server.cert, arguments: arguments)
}

@Suite("TLS client certificates", .serialized, .enabled(if: hasCurl && hasOpenSSL))
struct TLSClientCertificateTests {
    @Test("verify required: a good client certificate passes, its fields reach the backend and the log")
    func requiredWithGoodCertificate() throws {
        let certs = try ClientCertificates()
        defer { certs.remove() }
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let sha1 = try certs.pki.sha1(of: certs.client.cert)
        let weir = try WeirProcess.start(config: tlsTestConfig(log: .frontendFormats, global: ["ca-base \(certs.pki.dir)"],
                                                               frontendToServer([
            "bind 127.0.0.1:0 ssl crt \(certs.server.pem) verify required ca-file ca.crt crl-file crl.pem",
            #"log-format "mtls %[ssl_c_s_dn(cn)] verify=%[ssl_c_verify] %ST""#,
            "http-request set-header X-Client-DN %[ssl_c_s_dn(cn)]",
            "http-request set-header X-Serial %[ssl_c_serial,hex]",
            "http-request set-header X-SHA1 %[ssl_c_sha1,hex]",
            #"http-request set-header X-DN "%[ssl_c_s_dn] | %[ssl_c_i_dn] | %[ssl_c_s_dn(OU,-1)] | %[ssl_c_s_dn(,0,rfc2253)]""#,
            #"http-request set-header X-Verify "%[ssl_fc_has_crt] %[ssl_c_used] %[ssl_c_verify] %[ssl_c_err] %[ssl_c_ca_err]""#,
            #"http-request set-header X-Meta "%[ssl_c_version] %[ssl_c_sig_alg] %[ssl_c_key_alg] %[ssl_c_notafter]""#,
            "http-request set-header X-Pinned yes if { ssl_c_sha1 \(sha1) }",
            "http-request set-header X-Other-Pin yes if { ssl_c_serial 0A }",
        ], server: backend.address)))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        let r = try curlMTLS(port: port, "/hello", certs: certs, certificate: certs.client)
        #expect(r.status == 200 && r.body.contains("s1 GET /hello"), "\(r)")
        #expect(backend.waitForRequests { !$0.isEmpty })
        let request = try #require(backend.requests.first)
        func header(_ name: String) -> String? { request.headers.first { $0.name.lowercased() == name }?.value }
        #expect(header("x-client-dn") == "client1")
        #expect(header("x-serial") == (try certs.pki.serial(of: certs.client.cert)) && header("x-serial") == "1234ABCD")
        #expect(header("x-sha1") == sha1 && sha1.count == 40)
        #expect(header("x-dn") == "/C=FR/O=Weir Test/OU=Dev/OU=Ops/CN=client1 | /C=FR/O=Weir Test/CN=Weir Test CA | Ops"
                + " | CN=client1,OU=Ops,OU=Dev,O=Weir Test,C=FR")
        #expect(header("x-verify") == "1 1 0 0 0")
        #expect(header("x-meta") == "3 RSA-SHA256 rsaEncryption \(try certs.pki.notAfter(of: certs.client.cert))")
        #expect(header("x-pinned") == "yes" && header("x-other-pin") == nil)
        let log = weir.stdout.waitForLine { $0.hasPrefix("mtls ") }
        #expect(log == "mtls client1 verify=0 200", "stdout:\n\(weir.stdout.text)")
    }

    @Test("verify required refuses no certificate, another CA's and a revoked one; each is logged and counted")
    func requiredRefusals() throws {
        let certs = try ClientCertificates()
        defer { certs.remove() }
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let socket = statsSocketPath()
        let weir = try WeirProcess.start(config: tlsTestConfig(log: .httplog, global: ["stats socket \(socket) level admin"],
                                                               frontendToServer([
            "bind 127.0.0.1:0 ssl crt \(certs.server.pem) verify required ca-file \(certs.ca.cert) crl-file \(certs.crl)",
        ], server: backend.address)))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        let none = try curlMTLS(port: port, certs: certs)
        #expect(none.status == 0 && none.exitCode != 0, "\(none)")
        #expect(weir.stdout.waitForLine { $0.contains("fe/1: SSL handshake failure (peer did not return a certificate)") } != nil,
                "stdout:\n\(weir.stdout.text)")
        let rogue = try curlMTLS(port: port, certs: certs, certificate: certs.rogue)
        #expect(rogue.status == 0 && rogue.exitCode != 0, "\(rogue)")
        #expect(weir.stdout.waitForLine {
            $0.contains("fe/1: SSL client certificate not trusted (unable to get local issuer certificate)")
        } != nil, "stdout:\n\(weir.stdout.text)")
        let revoked = try curlMTLS(port: port, certs: certs, certificate: certs.revoked)
        #expect(revoked.status == 0 && revoked.exitCode != 0, "\(revoked)")
        #expect(weir.stdout.waitForLine { $0.contains("fe/1: SSL client certificate not trusted (certificate revoked)") } != nil,
                "stdout:\n\(weir.stdout.text)")
        // The same CA's valid certificate still passes the CRL check.
        #expect(try curlMTLS(port: port, certs: certs, certificate: certs.client).status == 200)
        #expect(backend.requests.count == 1)
        // HAProxy's `ssl` stats module columns, after the "-" that ends the static ones.
        let (ok, table) = waitForStat(socket) { $0.int("fe/FRONTEND", "ssl_failed_handshake") == 3 }
        #expect(ok, "\(table?.description ?? "no show stat")")
        #expect(table?.int("fe/FRONTEND", "ssl_sess") == 1)
        #expect(table?.int("fe/FRONTEND", "ssl_reused_sess") == 0)
        #expect(table?.text("fe/FRONTEND", "-") == "-")
        let columns = table?.columns ?? []
        #expect(columns.firstIndex(of: "-").map { columns[$0 - 1] == "agg_check_status" && columns[$0 + 1] == "ssl_sess" } == true, "\(columns)")
        let typed = try statsCommand(socket, "show stat typed")
        #expect(typed.contains(".ssl_failed_handshake.1:MCP:u64:3\n"), "\(typed)")
    }

    @Test("verify optional: no certificate passes and is routed by ssl_c_used; an untrusted one fails unless crt-ignore-err lets it")
    func optional() throws {
        let certs = try ClientCertificates()
        defer { certs.remove() }
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: tlsTestConfig("""
            frontend fe
                bind 127.0.0.1:0 ssl crt \(certs.server.pem) verify optional ca-file \(certs.ca.cert)
                bind 127.0.0.1:0 ssl crt \(certs.server.pem) verify optional ca-file \(certs.ca.cert) crt-ignore-err all
                http-request set-header X-Verify "%[ssl_fc_has_crt] %[ssl_c_used] %[ssl_c_verify] %[ssl_c_err] %[ssl_c_s_dn(cn)]"
                use_backend anonymous if !{ ssl_c_used }
                default_backend be
            backend be
                server s1 \(backend.address)
            backend anonymous
                http-request return status 200 content-type text/plain lf-string "anonymous %[ssl_fc_has_crt] %[ssl_c_verify]\\n"
            """))
        defer { weir.stop() }
        let strict = try weir.port(of: "fe", index: 0)
        let lenient = try weir.port(of: "fe", index: 1)
        let anonymous = try curlMTLS(port: strict, certs: certs)
        #expect(anonymous.status == 200 && anonymous.body == "anonymous 0 0\n", "\(anonymous)")
        let known = try curlMTLS(port: strict, "/known", certs: certs, certificate: certs.client)
        #expect(known.status == 200 && known.body.contains("s1 GET /known"), "\(known)")
        // As in HAProxy, `optional` does not let an untrusted certificate through.
        let rogue = try curlMTLS(port: strict, certs: certs, certificate: certs.rogue)
        #expect(rogue.status == 0 && rogue.exitCode != 0, "\(rogue)")
        let ignored = try curlMTLS(port: lenient, "/ignored", certs: certs, certificate: certs.rogue)
        #expect(ignored.status == 200 && ignored.body.contains("s1 GET /ignored"), "\(ignored)")
        #expect(backend.waitForRequests { $0.count == 2 })
        let verify = backend.requests.map { request in request.headers.first { $0.name.lowercased() == "x-verify" }?.value ?? "" }
        #expect(verify.first == "1 1 0 0 client1", "\(verify)")
        // 20: unable to get local issuer certificate, the first error; the
        // verification then ended on 21 (unable to verify the first certificate).
        #expect(verify.last == "1 1 21 20 rogue", "\(verify)")
    }

    @Test("an error above the client certificate is a CA chain error, let through by ca-ignore-err with ssl_c_ca_err and its depth")
    func caChainError() throws {
        let certs = try ClientCertificates()
        defer { certs.remove() }
        let chain = try certs.intermediateChain()
        // Only the intermediate is trusted: its issuer (depth 1) cannot be found.
        let weir = try WeirProcess.start(config: tlsTestConfig(log: .frontendFormats, frontendToServer([
            "bind 127.0.0.1:0 ssl crt \(certs.server.pem) verify required ca-file \(chain.intermediate.cert)",
            "bind 127.0.0.1:0 ssl crt \(certs.server.pem) verify required ca-file \(chain.intermediate.cert) ca-ignore-err 2",
            #"http-request return status 200 content-type text/plain lf-string "%[ssl_c_verify] %[ssl_c_err] %[ssl_c_ca_err] %[ssl_c_ca_err_depth] %[ssl_c_s_dn(cn)]\n""#,
        ], server: "127.0.0.1:9")))
        defer { weir.stop() }
        let refused = try curlMTLS(port: try weir.port(of: "fe", index: 0), certs: certs, certificate: chain.leaf)
        #expect(refused.status == 0 && refused.exitCode != 0, "\(refused)")
        #expect(weir.stdout.waitForLine {
            $0.contains("fe/1: SSL client CA chain cannot be verified (unable to get issuer certificate)")
        } != nil, "stdout:\n\(weir.stdout.text)")
        // 2: X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, at depth 1.
        let ignored = try curlMTLS(port: try weir.port(of: "fe", index: 1), certs: certs, certificate: chain.leaf)
        #expect(ignored.status == 200 && ignored.body == "2 0 2 1 leaf\n", "\(ignored)")
    }

    @Test("ssl_f_* read the certificate the frontend presented")
    func frontendCertificate() throws {
        let certs = try ClientCertificates()
        defer { certs.remove() }
        let python = try #require(pythonPath)
        let weir = try WeirProcess.start(config: tlsTestConfig(frontendToServer([
            "bind 127.0.0.1:0 ssl crt \(certs.server.pem) verify optional ca-file \(certs.ca.cert)",
            #"http-request return status 200 content-type text/plain lf-string "%[ssl_f_s_dn]|%[ssl_f_i_dn(CN)]|%[ssl_f_serial,hex]|%[ssl_f_sha1,hex]|%[ssl_f_version]|%[ssl_f_sig_alg]|%[ssl_f_key_alg]|%[ssl_f_notafter]|%[ssl_c_s_dn(CN)]""#,
        ], server: "127.0.0.1:9")))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        // Python's ssl module as the client, presenting the client certificate.
        let script = """
            import socket, ssl, sys
            ctx = ssl.create_default_context(cafile=sys.argv[1])
            ctx.load_cert_chain(sys.argv[2], sys.argv[3])
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[4])), timeout=5), server_hostname="a.test")
            s.sendall(b"GET / HTTP/1.1\\r\\nHost: a.test\\r\\nConnection: close\\r\\n\\r\\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk: break
                data += chunk
            print(data.split(b"\\r\\n\\r\\n", 1)[1].decode())
            """
        let run = try runTool(python, ["-c", script, certs.server.cert, certs.client.cert, certs.client.key, String(port)], timeout: 15)
        let server = certs.server.cert
        let expected = ["/C=FR/CN=a.test", "a.test", try certs.pki.serial(of: server), try certs.pki.sha1(of: server), "3",
                        "ecdsa-with-SHA256", "id-ecPublicKey", try certs.pki.notAfter(of: server), "client1"]
        #expect(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == expected.joined(separator: "|"), "\(run.stderr)")
    }

    @Test("ca-verify-file: the root ends the chain without being named in the certificate request")
    func caVerifyFile() throws {
        let certs = try ClientCertificates()
        defer { certs.remove() }
        let (leaf, intermediate) = try certs.intermediateChain()
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: tlsTestConfig(log: .frontendFormats, frontendToServer([
            "bind 127.0.0.1:0 ssl crt \(certs.server.pem) verify required ca-file \(intermediate.cert) "
                + "ca-verify-file \(certs.ca.cert)",
        ], server: backend.address)))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        let r = try curlMTLS(port: port, "/chain", certs: certs, certificate: leaf)
        #expect(r.status == 200 && r.body.contains("s1 GET /chain"), "\(r)")
        // The certificate request names the intermediate only.
        let run = try sClient(port: port, serverName: "a.test")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let start = try #require(lines.firstIndex(of: "Acceptable client certificate CA names"), "\(run.output)")
        let names = lines[(start + 1)...].prefix { $0.contains("CN = ") }
        #expect(Array(names) == ["CN = Intermediate"], "\(run.stdout)")
    }

    @Test("verify without ca-file, unreadable or bad ca-file and crl-file are errors at file:line:col")
    func configurationErrors() throws {
        let certs = try ClientCertificates()
        defer { certs.remove() }
        let junk = try certs.pki.write("not a certificate\n", to: "junk.pem")
        func check(_ bind: String) throws -> (status: Int32, stderr: String, path: String) {
            try checkConfiguration(tlsTestConfig(global: ["ca-base \(certs.pki.dir)"], frontendToServer([
                "bind 127.0.0.1:0 ssl crt \(certs.server.pem) \(bind)",
            ], server: "127.0.0.1:9")))
        }
        // Columns: the option's value, after "    bind 127.0.0.1:0 ssl crt PATH ".
        let base = 31 + certs.server.pem.count
        let noCA = try check("verify required")
        #expect(noCA.status == 1)
        #expect(noCA.stderr.contains("\(noCA.path):9:\(base): error: bind: verify is enabled but no CA file specified: "
                                     + "'verify required' needs 'ca-file FILE'"), "\(noCA.stderr)")
        let missing = try check("verify required ca-file missing.pem")
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("\(missing.path):9:\(base + 24): error: bind: cannot read CA file "
                                        + "'\(certs.pki.path("missing.pem"))': No such file or directory"), "\(missing.stderr)")
        let bad = try check("verify optional ca-file \(junk)")
        #expect(bad.stderr.contains("\(bad.path):9:\(base + 24): error: bind: unable to load CA file '\(junk)'"), "\(bad.stderr)")
        let badCRL = try check("verify required ca-file ca.crt crl-file junk.pem")
        #expect(badCRL.stderr.contains("\(badCRL.path):9:\(base + 40): error: bind: unable to load CRL file '\(junk)'"),
                "\(badCRL.stderr)")
        let good = try check("verify required ca-file ca.crt crl-file crl.pem ca-ignore-err all crt-ignore-err 10,23")
        #expect(good.status == 0, "\(good.stderr)")
        #expect(try check("verify required ca-verify-file ca.crt").status == 0)
        let missingVerify = try check("verify required ca-verify-file missing.pem")
        #expect(missingVerify.stderr.contains("\(missingVerify.path):9:\(base + 31): error: bind: cannot read CA verify "
                                              + "file '\(certs.pki.path("missing.pem"))': No such file or directory"),
                "\(missingVerify.stderr)")
    }
}
