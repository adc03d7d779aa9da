import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A small PKI made with the `openssl` CLI in a temporary directory (no
/// private key is checked in): a client CA, a client certificate it signed,
/// one it signed and then revoked (with the CA's CRL), a client certificate
/// of another CA, and the server's own certificate.
final class ClientCertificatePKI: @unchecked Sendable {
    let dir: String
    /// The client CA (RSA), trusted by `ca-file`.
    var ca: String { dir + "/ca.crt" }
    /// Signed by `ca`: subject /C=FR/O=Weir Test/OU=Dev/OU=Ops/CN=client1, serial 0x1234ABCD.
    var client: (cert: String, key: String) { (dir + "/client.crt", dir + "/client.key") }
    /// Signed by `ca`, revoked in `crl`.
    var revoked: (cert: String, key: String) { (dir + "/revoked.crt", dir + "/revoked.key") }
    /// Signed by another CA.
    var rogue: (cert: String, key: String) { (dir + "/rogue.crt", dir + "/rogue.key") }
    var crl: String { dir + "/crl.pem" }
    /// The server's self-signed certificate for `a.test` (ECDSA P-256), with its key.
    var server: String { dir + "/server.pem" }
    var serverCert: String { dir + "/server.crt" }

    init() throws {
        dir = NSTemporaryDirectory() + "weir-mtls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir + "/db", withIntermediateDirectories: true)
        let caExtensions = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
                     "-subj", "/C=FR/O=Weir Test/CN=Weir Test CA"] + caExtensions)
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.crt", "-days", "2",
                     "-subj", "/CN=Other CA"] + caExtensions)
        try "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n".write(toFile: dir + "/client.ext", atomically: true,
                                                                             encoding: .utf8)
        try issue("client", subject: "/C=FR/O=Weir Test/OU=Dev/OU=Ops/CN=client1", serial: "0x1234ABCD", by: "ca")
        try issue("revoked", subject: "/CN=revoked", serial: "99", by: "ca")
        try issue("rogue", subject: "/CN=rogue", serial: "7", by: "other")
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key",
                     "-out", "server.crt", "-days", "2", "-subj", "/C=FR/CN=a.test", "-addext", "subjectAltName=DNS:a.test"])
        let server = try String(contentsOfFile: dir + "/server.crt", encoding: .utf8)
            + String(contentsOfFile: dir + "/server.key", encoding: .utf8)
        try server.write(toFile: dir + "/server.pem", atomically: true, encoding: .utf8)
        // `openssl ca` revokes `revoked` and writes the CA's CRL.
        try "".write(toFile: dir + "/db/index.txt", atomically: true, encoding: .utf8)
        try "01\n".write(toFile: dir + "/db/crlnumber", atomically: true, encoding: .utf8)
        try """
            [ ca ]
            default_ca = CA_default
            [ CA_default ]
            database = db/index.txt
            crlnumber = db/crlnumber
            default_md = sha256
            default_crl_days = 2

            """.write(toFile: dir + "/ca.cnf", atomically: true, encoding: .utf8)
        try openssl(["ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.crt", "-revoke", "revoked.crt"])
        try openssl(["ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.crt", "-gencrl", "-out", "crl.pem"])
    }

    private func issue(_ name: String, subject: String, serial: String, by issuer: String,
                       extensions: String = "client.ext") throws {
        try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject])
        try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "\(issuer).crt", "-CAkey", "\(issuer).key", "-set_serial", serial,
                     "-days", "2", "-out", "\(name).crt", "-extfile", extensions])
    }

    /// An intermediate CA signed by `ca`, and a client certificate it signed,
    /// sent with the intermediate: the certificate and chain file, the key,
    /// and the intermediate alone.
    func intermediateChain() throws -> (chain: String, key: String, intermediate: String) {
        try "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n".write(
            toFile: dir + "/ca.ext", atomically: true, encoding: .utf8)
        try issue("intermediate", subject: "/CN=Intermediate", serial: "5", by: "ca", extensions: "ca.ext")
        try issue("leaf", subject: "/CN=leaf", serial: "6", by: "intermediate")
        let chain = try String(contentsOfFile: dir + "/leaf.crt", encoding: .utf8)
            + String(contentsOfFile: dir + "/intermediate.crt", encoding: .utf8)
        try chain.write(toFile: dir + "/leaf-chain.crt", atomically: true, encoding: .utf8)
        return (dir + "/leaf-chain.crt", dir + "/leaf.key", dir + "/intermediate.crt")
    }

    /// Runs `openssl` in the directory; its standard output.
    @discardableResult
    func openssl(_ arguments: [String]) throws -> String {
        // Relative paths: openssl runs with the PKI directory as its working directory.
        let script = "cd \"$1\" && shift && exec \"$@\""
        let run = try runTool("/bin/sh", ["-c", script, "sh", dir, opensslPath] + arguments, timeout: 30)
        guard run.status == 0 else {
            throw WeirProcess.SpawnFailure(description: "openssl \(arguments.joined(separator: " ")) failed: \(run.stderr)")
        }
        return run.stdout
    }

    /// `openssl x509 -noout -OPTION` of a certificate: the text after `=` ("1234ABCD").
    func field(_ certificate: String, _ option: [String]) throws -> String {
        let out = try openssl(["x509", "-in", certificate, "-noout"] + option).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let equals = out.firstIndex(of: "=") else { return out }
        return String(out[out.index(after: equals)...])
    }

    /// The serial in hexadecimal, as `ssl_c_serial,hex` writes it.
    func serial(_ certificate: String) throws -> String { try field(certificate, ["-serial"]) }

    /// The SHA-1 fingerprint without colons, as `ssl_c_sha1,hex` writes it.
    func sha1(_ certificate: String) throws -> String {
        try field(certificate, ["-fingerprint", "-sha1"]).replacingOccurrences(of: ":", with: "")
    }

    /// notAfter as YYMMDDhhmmssZ (from "Dec  7 11:10:55 2026 GMT").
    func notAfter(_ certificate: String) throws -> String {
        let parts = try field(certificate, ["-enddate"]).split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard parts.count == 5, let month = months.firstIndex(of: String(parts[0])), let day = Int(parts[1]) else { return "?" }
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return String(parts[3].suffix(2)) + two(month + 1) + two(day) + parts[2].replacingOccurrences(of: ":", with: "") + "Z"
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}

/// `curl https://a.test:PORT/PATH` trusting the server's certificate, with
/// a client certificate when one is given.
func curlMTLS(port: UInt16, _ path: String = "/", pki: ClientCertificatePKI,
              certificate: (cert: String, key: String)? = nil) throws -> CurlResponse {
    var arguments: [String] = []
    if let certificate { arguments += ["--cert", certificate.cert, "--key", certificate.key] }
    return try curlHTTPS(port: port, path, ca: pki.serverCert, arguments: arguments)
}

@Suite("TLS client certificates", .serialized, .enabled(if: hasCurl && hasOpenSSL))
struct TLSClientCertificateTests {
    @Test("verify required: a good client certificate passes, its fields reach the backend and the log")
    func requiredWithGoodCertificate() throws {
        let pki = try ClientCertificatePKI()
        defer { pki.remove() }
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let sha1 = try pki.sha1(pki.client.cert)
        let weir = try WeirProcess.start(config: """
            global
                log stdout format raw local0
                ca-base \(pki.dir)
            defaults
                mode http
                log global
                timeout connect 2s
                timeout client 10s
                timeout server 10s
            frontend fe
                bind 127.0.0.1:0 ssl crt \(pki.server) verify required ca-file ca.crt crl-file crl.pem
                log-format "mtls %[ssl_c_s_dn(cn)] verify=%[ssl_c_verify] %ST"
                http-request set-header X-Client-DN %[ssl_c_s_dn(cn)]
                http-request set-header X-Serial %[ssl_c_serial,hex]
                http-request set-header X-SHA1 %[ssl_c_sha1,hex]
                http-request set-header X-DN "%[ssl_c_s_dn] | %[ssl_c_i_dn] | %[ssl_c_s_dn(OU,-1)] | %[ssl_c_s_dn(,0,rfc2253)]"
                http-request set-header X-Verify "%[ssl_fc_has_crt] %[ssl_c_used] %[ssl_c_verify] %[ssl_c_err] %[ssl_c_ca_err]"
                http-request set-header X-Meta "%[ssl_c_version] %[ssl_c_sig_alg] %[ssl_c_key_alg] %[ssl_c_notafter]"
                http-request set-header X-Pinned yes if { ssl_c_sha1 \(sha1) }
                http-request set-header X-Other-Pin yes if { ssl_c_serial 0A }
                default_backend be
            backend be
                server s1 \(backend.address)
            """)
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        let r = try curlMTLS(port: port, "/hello", pki: pki, certificate: pki.client)
        #expect(r.status == 200 && r.body.contains("s1 GET /hello"), "\(r)")
        #expect(backend.waitForRequests { !$0.isEmpty })
        let request = try #require(backend.requests.first)
        func header(_ name: String) -> String? { request.headers.first { $0.name.lowercased() == name }?.value }
        #expect(header("x-client-dn") == "client1")
        #expect(header("x-serial") == (try pki.serial(pki.client.cert)) && header("x-serial") == "1234ABCD")
        #expect(header("x-sha1") == sha1 && sha1.count == 40)
        #expect(header("x-dn") == "/C=FR/O=Weir Test/OU=Dev/OU=Ops/CN=client1 | /C=FR/O=Weir Test/CN=Weir Test CA | Ops"
                + " | CN=client1,OU=Ops,OU=Dev,O=Weir Test,C=FR")
        #expect(header("x-verify") == "1 1 0 0 0")
        #expect(header("x-meta") == "3 RSA-SHA256 rsaEncryption \(try pki.notAfter(pki.client.cert))")
        #expect(header("x-pinned") == "yes" && header("x-other-pin") == nil)
        let log = weir.stdout.waitForLine { $0.hasPrefix("mtls ") }
        #expect(log == "mtls client1 verify=0 200", "stdout:\n\(weir.stdout.text)")
    }

    @Test("verify required refuses no certificate, another CA's and a revoked one; each is logged and counted")
    func requiredRefusals() throws {
        let pki = try ClientCertificatePKI()
        defer { pki.remove() }
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let socket = statsSocketPath()
        let weir = try WeirProcess.start(config: """
            global
                log stdout format raw local0
                stats socket \(socket) level admin
            defaults
                mode http
                log global
                option httplog
                timeout connect 2s
                timeout client 10s
                timeout server 10s
            frontend fe
                bind 127.0.0.1:0 ssl crt \(pki.server) verify required ca-file \(pki.ca) crl-file \(pki.crl)
                default_backend be
            backend be
                server s1 \(backend.address)
            """)
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        let none = try curlMTLS(port: port, pki: pki)
        #expect(none.status == 0 && none.exitCode != 0, "\(none)")
        #expect(weir.stdout.waitForLine { $0.contains("fe/1: SSL handshake failure (peer did not return a certificate)") } != nil,
                "stdout:\n\(weir.stdout.text)")
        let rogue = try curlMTLS(port: port, pki: pki, certificate: pki.rogue)
        #expect(rogue.status == 0 && rogue.exitCode != 0, "\(rogue)")
        #expect(weir.stdout.waitForLine {
            $0.contains("fe/1: SSL client certificate not trusted (unable to get local issuer certificate)")
        } != nil, "stdout:\n\(weir.stdout.text)")
        let revoked = try curlMTLS(port: port, pki: pki, certificate: pki.revoked)
        #expect(revoked.status == 0 && revoked.exitCode != 0, "\(revoked)")
        #expect(weir.stdout.waitForLine { $0.contains("fe/1: SSL client certificate not trusted (certificate revoked)") } != nil,
                "stdout:\n\(weir.stdout.text)")
        // The same CA's valid certificate still passes the CRL check.
        #expect(try curlMTLS(port: port, pki: pki, certificate: pki.client).status == 200)
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
        let pki = try ClientCertificatePKI()
        defer { pki.remove() }
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: """
            defaults
                mode http
                timeout connect 2s
                timeout client 10s
                timeout server 10s
            frontend fe
                bind 127.0.0.1:0 ssl crt \(pki.server) verify optional ca-file \(pki.ca)
                bind 127.0.0.1:0 ssl crt \(pki.server) verify optional ca-file \(pki.ca) crt-ignore-err all
                http-request set-header X-Verify "%[ssl_fc_has_crt] %[ssl_c_used] %[ssl_c_verify] %[ssl_c_err] %[ssl_c_s_dn(cn)]"
                use_backend anonymous if !{ ssl_c_used }
                default_backend be
            backend be
                server s1 \(backend.address)
            backend anonymous
                http-request return status 200 content-type text/plain lf-string "anonymous %[ssl_fc_has_crt] %[ssl_c_verify]\\n"
            """)
        defer { weir.stop() }
        let strict = try weir.port(of: "fe", index: 0)
        let lenient = try weir.port(of: "fe", index: 1)
        let anonymous = try curlMTLS(port: strict, pki: pki)
        #expect(anonymous.status == 200 && anonymous.body == "anonymous 0 0\n", "\(anonymous)")
        let known = try curlMTLS(port: strict, "/known", pki: pki, certificate: pki.client)
        #expect(known.status == 200 && known.body.contains("s1 GET /known"), "\(known)")
        // As in HAProxy, `optional` does not let an untrusted certificate through.
        let rogue = try curlMTLS(port: strict, pki: pki, certificate: pki.rogue)
        #expect(rogue.status == 0 && rogue.exitCode != 0, "\(rogue)")
        let ignored = try curlMTLS(port: lenient, "/ignored", pki: pki, certificate: pki.rogue)
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
        let pki = try ClientCertificatePKI()
        defer { pki.remove() }
        let leaf = try pki.intermediateChain()
        // Only the intermediate is trusted: its issuer (depth 1) cannot be found.
        let weir = try WeirProcess.start(config: """
            global
                log stdout format raw local0
            defaults
                mode http
                log global
                timeout connect 2s
                timeout client 10s
                timeout server 10s
            frontend fe
                bind 127.0.0.1:0 ssl crt \(pki.server) verify required ca-file \(leaf.intermediate)
                bind 127.0.0.1:0 ssl crt \(pki.server) verify required ca-file \(leaf.intermediate) ca-ignore-err 2
                http-request return status 200 content-type text/plain lf-string "%[ssl_c_verify] %[ssl_c_err] %[ssl_c_ca_err] %[ssl_c_ca_err_depth] %[ssl_c_s_dn(cn)]\\n"
                default_backend be
            backend be
                server s1 127.0.0.1:9
            """)
        defer { weir.stop() }
        let refused = try curlMTLS(port: try weir.port(of: "fe", index: 0), pki: pki, certificate: (leaf.chain, leaf.key))
        #expect(refused.status == 0 && refused.exitCode != 0, "\(refused)")
        #expect(weir.stdout.waitForLine {
            $0.contains("fe/1: SSL client CA chain cannot be verified (unable to get issuer certificate)")
        } != nil, "stdout:\n\(weir.stdout.text)")
        // 2: X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, at depth 1.
        let ignored = try curlMTLS(port: try weir.port(of: "fe", index: 1), pki: pki, certificate: (leaf.chain, leaf.key))
        #expect(ignored.status == 200 && ignored.body == "2 0 2 1 leaf\n", "\(ignored)")
    }

    @Test("ssl_f_* read the certificate the frontend presented")
    func frontendCertificate() throws {
        let pki = try ClientCertificatePKI()
        defer { pki.remove() }
        let python = try #require(pythonPath)
        let weir = try WeirProcess.start(config: """
            defaults
                mode http
                timeout connect 2s
                timeout client 10s
                timeout server 10s
            frontend fe
                bind 127.0.0.1:0 ssl crt \(pki.server) verify optional ca-file \(pki.ca)
                http-request return status 200 content-type text/plain lf-string "%[ssl_f_s_dn]|%[ssl_f_i_dn(CN)]|%[ssl_f_serial,hex]|%[ssl_f_sha1,hex]|%[ssl_f_version]|%[ssl_f_sig_alg]|%[ssl_f_key_alg]|%[ssl_f_notafter]|%[ssl_c_s_dn(CN)]"
                default_backend be
            backend be
                server s1 127.0.0.1:9
            """)
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
        let run = try runTool(python, ["-c", script, pki.serverCert, pki.client.cert, pki.client.key, String(port)], timeout: 15)
        let expected = ["/C=FR/CN=a.test", "a.test", try pki.serial(pki.serverCert), try pki.sha1(pki.serverCert), "3",
                        "ecdsa-with-SHA256", "id-ecPublicKey", try pki.notAfter(pki.serverCert), "client1"]
        #expect(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == expected.joined(separator: "|"), "\(run.stderr)")
    }

    @Test("verify without ca-file, unreadable or bad ca-file and crl-file are errors at file:line:col")
    func configurationErrors() throws {
        let pki = try ClientCertificatePKI()
        defer { pki.remove() }
        let junk = pki.dir + "/junk.pem"
        try "not a certificate\n".write(toFile: junk, atomically: true, encoding: .utf8)
        func check(_ bind: String) throws -> (status: Int32, stderr: String, path: String) {
            let file = try TempFile("""
                global
                    ca-base \(pki.dir)
                defaults
                    mode http
                    timeout connect 2s
                    timeout client 10s
                    timeout server 10s
                frontend fe
                    bind 127.0.0.1:0 ssl crt \(pki.server) \(bind)
                    default_backend be
                backend be
                    server s1 127.0.0.1:9
                """)
            defer { file.remove() }
            let run = try WeirProcess.run(["-c", "-f", file.path])
            return (run.status, run.stderr, file.path)
        }
        // Columns: the option's value, after "    bind 127.0.0.1:0 ssl crt PATH ".
        let base = 31 + pki.server.count
        let noCA = try check("verify required")
        #expect(noCA.status == 1)
        #expect(noCA.stderr.contains("\(noCA.path):9:\(base): error: bind: verify is enabled but no CA file specified: "
                                     + "'verify required' needs 'ca-file FILE'"), "\(noCA.stderr)")
        let missing = try check("verify required ca-file missing.pem")
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("\(missing.path):9:\(base + 24): error: bind: cannot read CA file "
                                        + "'\(pki.dir)/missing.pem': No such file or directory"), "\(missing.stderr)")
        let bad = try check("verify optional ca-file \(junk)")
        #expect(bad.stderr.contains("\(bad.path):9:\(base + 24): error: bind: unable to load CA file '\(junk)'"), "\(bad.stderr)")
        let badCRL = try check("verify required ca-file ca.crt crl-file junk.pem")
        #expect(badCRL.stderr.contains("\(badCRL.path):9:\(base + 40): error: bind: unable to load CRL file '\(junk)'"),
                "\(badCRL.stderr)")
        let good = try check("verify required ca-file ca.crt crl-file crl.pem ca-ignore-err all crt-ignore-err 10,23")
        #expect(good.status == 0, "\(good.stderr)")
    }
}
