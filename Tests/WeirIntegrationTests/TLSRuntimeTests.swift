import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A CA made with the `openssl` CLI in a temporary directory, the server
/// certificate it signed for `a.test` and `b.test` (with the CA after it in
/// `server.pem`, and its key), and a client certificate it signed.
private final class RuntimePKI: @unchecked Sendable {
    let dir: String
    var ca: String { dir + "/ca.crt" }
    var server: String { dir + "/server.pem" }
    var serverCert: String { dir + "/server.crt" }
    var client: (cert: String, key: String) { (dir + "/client.crt", dir + "/client.key") }

    init() throws {
        dir = NSTemporaryDirectory() + "weir-tlsrt-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
                     "-subj", "/C=FR/O=Weir Test/CN=Runtime CA",
                     "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try "subjectAltName=DNS:a.test,DNS:b.test\n".write(toFile: dir + "/server.ext", atomically: true, encoding: .utf8)
        try "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n".write(toFile: dir + "/client.ext", atomically: true,
                                                                             encoding: .utf8)
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key",
                     "-out", "server.csr", "-subj", "/CN=a.test"])
        try openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "0x5EA1",
                     "-days", "2", "-out", "server.crt", "-extfile", "server.ext"])
        try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=client"])
        try openssl(["x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "77",
                     "-days", "2", "-out", "client.crt", "-extfile", "client.ext"])
        let pem = try String(contentsOfFile: dir + "/server.crt", encoding: .utf8)
            + String(contentsOfFile: dir + "/ca.crt", encoding: .utf8)
            + String(contentsOfFile: dir + "/server.key", encoding: .utf8)
        try pem.write(toFile: server, atomically: true, encoding: .utf8)
    }

    /// Runs `openssl` in the directory; its standard output.
    @discardableResult
    func openssl(_ arguments: [String]) throws -> String {
        let script = "cd \"$1\" && shift && exec \"$@\""
        let run = try runTool("/bin/sh", ["-c", script, "sh", dir, opensslPath] + arguments, timeout: 30)
        guard run.status == 0 else {
            throw WeirProcess.SpawnFailure(description: "openssl \(arguments.joined(separator: " ")) failed: \(run.stderr)")
        }
        return run.stdout
    }

    /// `openssl x509 -noout -OPTION` of a certificate: the text after `=`.
    func field(_ certificate: String, _ option: [String]) throws -> String {
        let out = try openssl(["x509", "-in", certificate, "-noout"] + option).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let equals = out.firstIndex(of: "=") else { return out }
        return String(out[out.index(after: equals)...])
    }

    /// A DER OCSP response signed by the CA saying `cert` (serial `serial`) is good for a day; its base64.
    func ocspResponse(for cert: String, serial: String, subject: String) throws -> String {
        try "V\t301231235959Z\t\t\(serial)\tunknown\t\(subject)\n".write(toFile: dir + "/index.txt", atomically: true,
                                                                             encoding: .utf8)
        try openssl(["ocsp", "-issuer", "ca.crt", "-cert", cert, "-no_nonce", "-reqout", "ocsp.req"])
        try openssl(["ocsp", "-index", "index.txt", "-rsigner", "ca.crt", "-rkey", "ca.key", "-CA", "ca.crt",
                     "-reqin", "ocsp.req", "-respout", "ocsp.der", "-ndays", "1"])
        return try openssl(["base64", "-A", "-in", "ocsp.der"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}

/// One HTTPS request with `openssl s_client` to `a.test` (TLS `version`),
/// asking for a stapled OCSP response, saving the session to `save` or
/// offering the one in `offer`: the whole output (with the `pid=` answer).
private func sClientRequest(port: UInt16, version: String = "1.3", save: String? = nil, offer: String? = nil,
                            request: String, extra: [String] = []) throws -> String {
    var arguments = ["s_client", "-connect", "127.0.0.1:\(port)", "-servername", "a.test", "-ign_eof",
                     version == "1.2" ? "-tls1_2" : "-tls1_3"] + extra
    if let save { arguments += ["-sess_out", save] }
    if let offer { arguments += ["-sess_in", offer] }
    // The request comes from a file on stdin; the server closes after its answer (`Connection: close`).
    let run = try runTool("/bin/sh", ["-c", "f=$1; shift; exec \"$@\" < \"$f\" 2>/dev/null", "sh", request, opensslPath] + arguments,
                          timeout: 15)
    return run.stdout
}

/// The worker pid a `pid=%pid` answer names.
private func answeringPID(_ output: String) -> String? {
    output.split(whereSeparator: \.isNewline).first { $0.hasPrefix("pid=") }.map { String($0.dropFirst(4)) }
}

private func reused(_ output: String) -> Bool {
    output.split(whereSeparator: \.isNewline).contains { $0.hasPrefix("Reused, TLSv") }
}

/// A master with two workers and a stats socket; `fe` answers `pid=<worker pid>`.
private func twoWorkers(socket: String, bind: String) throws -> MasterHarness {
    try MasterHarness(config: """
        global
            nbthread 2
            stats socket \(socket) level admin
        defaults
            mode http
            timeout connect 2s
            timeout client 10s
            timeout server 10s
        frontend fe
            bind \(bind)
            http-request return status 200 content-type text/plain lf-string "pid=%pid\\n"
        """)
}

@Suite("TLS runtime API", .serialized, .enabled(if: hasCurl && hasOpenSSL))
struct TLSRuntimeTests {
    @Test("show ssl cert lists the files in use and shows a file's serial, dates, names, fingerprint and chain as openssl does")
    func showSSLCert() throws {
        let pki = try RuntimePKI()
        defer { pki.remove() }
        // A second file: the client certificate with its key.
        let other = pki.dir + "/other.pem"
        try (String(contentsOfFile: pki.client.cert, encoding: .utf8) + String(contentsOfFile: pki.client.key, encoding: .utf8))
            .write(toFile: other, atomically: true, encoding: .utf8)
        // A third: the same, presented to a server.
        let toServer = pki.dir + "/to-server.pem"
        try FileManager.default.copyItem(atPath: other, toPath: toServer)
        let socket = statsSocketPath()
        let weir = try WeirProcess.start(config: """
            global
                stats socket \(socket) level admin
            defaults
                mode tcp
                timeout connect 2s
                timeout client 10s
                timeout server 10s
            frontend fe
                bind 127.0.0.1:0 ssl crt \(pki.server)
                bind 127.0.0.1:0 ssl crt \(pki.server) crt \(other)
                default_backend be
            backend be
                server s1 127.0.0.1:9 ssl verify none crt \(toServer)
            """)
        defer { weir.stop() }
        #expect(try statsCommand(socket, "show ssl cert") == "# filename\n\(pki.server)\n\(other)\n\(toServer)\n\n")
        let presented = try statsCommand(socket, "show ssl cert \(toServer)")
        let clientSerial = try pki.field(pki.client.cert, ["-serial"])
        #expect(presented.contains("Filename: \(toServer)\n") && presented.contains("Serial: \(clientSerial)\n"), "\(presented)")
        let details = try statsCommand(socket, "show ssl cert \(pki.server)")
        let lines = details.split(separator: "\n").map(String.init)
        func value(_ name: String) -> [String] {
            lines.filter { $0.hasPrefix(name + ": ") || $0 == name + ":" }.map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
        }
        #expect(value("Filename") == [pki.server] && value("Status") == ["Used"], "\(details)")
        #expect(value("Serial") == [try pki.field(pki.serverCert, ["-serial"])] && value("Serial") == ["5EA1"], "\(details)")
        let sha1 = try pki.field(pki.serverCert, ["-fingerprint", "-sha1"]).replacingOccurrences(of: ":", with: "")
        #expect(value("SHA1 FingerPrint") == [sha1] && sha1.count == 40, "\(details)")
        #expect(value("notBefore") == [try pki.field(pki.serverCert, ["-startdate"])], "\(details)")
        #expect(value("notAfter") == [try pki.field(pki.serverCert, ["-enddate"])], "\(details)")
        #expect(value("Subject Alternative Name") == ["DNS:a.test, DNS:b.test"], "\(details)")
        #expect(value("Algorithm") == ["EC256"], "\(details)")
        #expect(value("Subject") == ["/CN=a.test"] && value("Issuer") == ["/C=FR/O=Weir Test/CN=Runtime CA"], "\(details)")
        #expect(value("Chain Subject") == ["/C=FR/O=Weir Test/CN=Runtime CA"], "\(details)")
        #expect(value("Chain Issuer") == ["/C=FR/O=Weir Test/CN=Runtime CA"], "\(details)")
        #expect(value("OCSP Response Key").isEmpty, "no .ocsp file: \(details)")
        #expect(try statsCommand(socket, "show ssl cert /nonexistent.pem")
                == "Can't display the certificate: Not found or the certificate is a bundle!\n\n")
        #expect(try statsCommand(socket, "help").contains("show ssl cert [<certfile>]"))
    }

    @Test("show tls-keys lists the tls-ticket-keys files and dumps the live keys of one or all")
    func showTLSKeys() throws {
        let pki = try RuntimePKI()
        defer { pki.remove() }
        var keys: [String] = []
        for _ in 0..<4 { keys.append(try pki.openssl(["rand", "-base64", "48"]).trimmingCharacters(in: .whitespacesAndNewlines)) }
        let keyFile = pki.dir + "/tickets.keys"
        try (keys.joined(separator: "\n") + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        let socket = statsSocketPath()
        let weir = try WeirProcess.start(config: """
            global
                stats socket \(socket) level admin
            defaults
                mode tcp
                timeout connect 2s
                timeout client 10s
                timeout server 10s
            frontend fe
                bind 127.0.0.1:0 ssl crt \(pki.server) tls-ticket-keys \(keyFile)
                bind 127.0.0.1:0 ssl crt \(pki.server)
                default_backend be
            backend be
                server s1 127.0.0.1:9
            """)
        defer { weir.stop() }
        #expect(try statsCommand(socket, "show tls-keys") == "# id (file)\n0 (\(keyFile))\n\n")
        // The last three keys of the file are live, the middle one encrypts.
        let dump = "# id secret\n# 0 (\(keyFile))\n0.0 \(keys[1])\n0.1 \(keys[2])\n0.2 \(keys[3])\n\n"
        #expect(try statsCommand(socket, "show tls-keys 0") == dump)
        #expect(try statsCommand(socket, "show tls-keys *") == dump)
        #expect(try statsCommand(socket, "show tls-keys \(keyFile)") == dump)
        #expect(try statsCommand(socket, "show tls-keys 7") == "'show tls-keys' unable to locate referenced filename\n\n")
    }

    @Test("crt-list [verify required ca-file F]: a client certificate is demanded for one SNI name, not for the other")
    func crtListVerifyPerEntry() throws {
        let pki = try RuntimePKI()
        defer { pki.remove() }
        let backend = try HTTPBackend()
        defer { backend.stop() }
        // The default entry (b.test) asks nothing; SNI a.test switches to the entry that requires a certificate.
        let list = pki.dir + "/list.txt"
        try """
            \(pki.server) b.test
            \(pki.server) [verify required ca-file ca.crt] a.test

            """.write(toFile: list, atomically: true, encoding: .utf8)
        let weir = try WeirProcess.start(config: """
            global
                ca-base \(pki.dir)
            defaults
                mode http
                timeout connect 2s
                timeout client 10s
                timeout server 10s
            frontend fe
                bind 127.0.0.1:0 ssl crt-list \(list)
                http-request set-header X-Has-Cert %[ssl_fc_has_crt]
                default_backend be
            backend be
                server s1 \(backend.address)
            """)
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        let free = try curlHTTPS(port: port, name: "b.test", "/free", ca: pki.ca)
        #expect(free.status == 200, "\(free)")
        let refused = try curlHTTPS(port: port, name: "a.test", "/refused", ca: pki.ca)
        #expect(refused.status == 0 && refused.exitCode != 0, "\(refused)")
        let withCertificate = try curlHTTPS(port: port, name: "a.test", "/mtls", ca: pki.ca,
                                            arguments: ["--cert", pki.client.cert, "--key", pki.client.key])
        #expect(withCertificate.status == 200, "\(withCertificate)")
        #expect(backend.waitForRequests { $0.count == 2 })
        let paths = backend.requests.map { request in
            "\(request.target) \(request.headers.first { $0.name.lowercased() == "x-has-cert" }?.value ?? "-")"
        }
        #expect(paths == ["/free 0", "/mtls 1"], "\(paths)")
    }

    @Test("crt-list verify without a CA file, or with an unreadable one, is a configuration error")
    func crtListVerifyConfigurationErrors() throws {
        let pki = try RuntimePKI()
        defer { pki.remove() }
        let list = pki.dir + "/list.txt"
        try "\(pki.server) [verify required] a.test\n".write(toFile: list, atomically: true, encoding: .utf8)
        let missing = pki.dir + "/missing.txt"
        try "\(pki.server) [verify optional ca-file \(pki.dir)/nope.crt] a.test\n".write(toFile: missing, atomically: true,
                                                                                         encoding: .utf8)
        for (file, expected) in [(list, "\(list):1: verify is enabled but no CA file specified"),
                                 (missing, "cannot read CA file '\(pki.dir)/nope.crt'")] {
            let config = pki.dir + "/weir.cfg"
            try """
                defaults
                    mode http
                    timeout connect 2s
                    timeout client 10s
                    timeout server 10s
                frontend fe
                    bind 127.0.0.1:0 ssl crt-list \(file)
                    default_backend be
                backend be
                    server s1 127.0.0.1:9

                """.write(toFile: config, atomically: true, encoding: .utf8)
            let run = try WeirProcess.run(["-c", "-f", config])
            #expect(run.status != 0 && run.stderr.contains(expected), "\(run.stderr)")
        }
    }

    @Test("set ssl ocsp-response: a response made at test time is stapled by every worker; a bad one is refused")
    func setOCSPResponse() throws {
        let pki = try RuntimePKI()
        defer { pki.remove() }
        let request = pki.dir + "/request"
        try "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n".write(toFile: request, atomically: true, encoding: .utf8)
        let socket = statsSocketPath()
        let h = try twoWorkers(socket: socket, bind: "127.0.0.1:0 ssl crt \(pki.server)")
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        let before = try sClientRequest(port: port, request: request, extra: ["-status"])
        #expect(before.contains("OCSP response: no response sent") && answeringPID(before) != nil, "\(before)")
        // Refused: not base64, not an OCSP response, about another certificate.
        #expect(try statsCommand(socket, "set ssl ocsp-response !!!")
                == "'set ssl ocsp-response' received invalid base64 encoded response.\n\n")
        #expect(try statsCommand(socket, "set ssl ocsp-response AAAA") == "OCSP response: not a DER OCSP response.\n\n")
        let other = try pki.ocspResponse(for: "client.crt", serial: "4D", subject: "/CN=client")
        #expect(try statsCommand(socket, "set ssl ocsp-response \(other)")
                == "OCSP single response: Certificate ID does not match any certificate or issuer.\n\n")
        #expect(try statsCommand(socket, "set ssl ocsp-response") == "'set ssl ocsp-response' expects response in base64 encoding.\n\n")
        let response = try pki.ocspResponse(for: "server.crt", serial: "5EA1", subject: "/CN=a.test")
        #expect(try statsCommand(socket, "show ssl ocsp-response") == "# Certificate IDs\n\n")
        #expect(try statsCommand(socket, "set ssl ocsp-response \(response)") == "OCSP Response updated!\n\n")
        // The master keeps it: its certificate id as `openssl ocsp -req_text` shows the request's.
        let ids = try statsCommand(socket, "show ssl ocsp-response")
        let idLines = ids.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let requestText = try pki.openssl(["ocsp", "-reqin", "ocsp.req", "-req_text"])
        for field in ["Issuer Name Hash:", "Issuer Key Hash:", "Serial Number:"] {
            let ours = idLines.first { $0.hasPrefix(field) }
            let theirs = requestText.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix(field) }
            #expect(ours != nil && ours == theirs, "\(ids)\n\(requestText)")
        }
        let key = try #require(idLines.first { $0.hasPrefix("Certificate ID key : ") }.map { String($0.dropFirst(21)) }, "\(ids)")
        let printed = try statsCommand(socket, "show ssl ocsp-response \(key)")
        #expect(printed.contains("OCSP Response Status: successful") && printed.contains("Cert Status: good"), "\(printed)")
        #expect(try statsCommand(socket, "show ssl cert \(pki.server)").contains("\nOCSP Response Key: \(key)\n"))
        #expect(try statsCommand(socket, "show ssl ocsp-response 00") == "Certificate ID does not match any certificate.\n\n")
        // Every worker staples it: connections until both workers answered (bounded).
        var pids = Set<String>()
        for _ in 0..<40 where pids.count < 2 {
            let output = try sClientRequest(port: port, request: request, extra: ["-status"])
            #expect(output.contains("OCSP Response Status: successful") && output.contains("Cert Status: good"), "\(output)")
            if let pid = answeringPID(output) { pids.insert(pid) }
        }
        #expect(pids.count == 2, "\(pids)")
    }

    @Test("set ssl tls-key: the key set at runtime encrypts the tickets of every worker after the next one, as in HAProxy")
    func setTLSKey() throws {
        let pki = try RuntimePKI()
        defer { pki.remove() }
        let request = pki.dir + "/request"
        try "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n".write(toFile: request, atomically: true, encoding: .utf8)
        func randomKey() throws -> String {
            try pki.openssl(["rand", "-base64", "48"]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let original = try (0..<3).map { _ in try randomKey() }
        let keyFile = pki.dir + "/tickets.keys"
        try (original.joined(separator: "\n") + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        let socket = statsSocketPath()
        let bind = "127.0.0.1:0 ssl crt \(pki.server) tls-ticket-keys \(keyFile)"
        let a = try twoWorkers(socket: socket, bind: bind)
        defer { a.close() }
        let portA = try a.master.port(of: "fe")
        let session = { (name: String) in pki.dir + "/" + name + ".sess" }
        _ = try sClientRequest(port: portA, version: "1.2", save: session("before"), request: request)
        #expect(try statsCommand(socket, "set ssl tls-key 0 !!!") == "'set ssl tls-key' received invalid base64 encoded TLS key.\n\n")
        #expect(try statsCommand(socket, "set ssl tls-key 3 \(try randomKey())")
                == "'set ssl tls-key' unable to locate referenced filename\n\n")
        let (first, second) = (try randomKey(), try randomKey())
        #expect(try statsCommand(socket, "set ssl tls-key 0 \(first)") == "TLS ticket key updated!\n\n")
        #expect(try statsCommand(socket, "set ssl tls-key \(keyFile) \(second)") == "TLS ticket key updated!\n\n")
        // The key set first now encrypts, the second is next.
        #expect(try statsCommand(socket, "show tls-keys 0")
                == "# id secret\n# 0 (\(keyFile))\n0.0 \(original[2])\n0.1 \(first)\n0.2 \(second)\n\n")
        // Sessions from both workers (bounded), then a second weir whose file knows only the first new key.
        var pids = Set<String>()
        var saved: [String] = []
        for index in 0..<40 where pids.count < 2 || saved.count < 4 {
            let output = try sClientRequest(port: portA, version: "1.2", save: session("after\(index)"), request: request)
            if let pid = answeringPID(output) { pids.insert(pid) }
            saved.append(session("after\(index)"))
        }
        #expect(pids.count == 2, "\(pids)")
        try ([try randomKey(), try randomKey(), first].joined(separator: "\n") + "\n")
            .write(toFile: keyFile, atomically: true, encoding: .utf8)
        let b = try twoWorkers(socket: statsSocketPath(), bind: bind)
        defer { b.close() }
        let portB = try b.master.port(of: "fe")
        let old = try sClientRequest(port: portB, version: "1.2", offer: session("before"), request: request)
        #expect(!reused(old) && answeringPID(old) != nil, "\(old)")
        for file in saved {
            let output = try sClientRequest(port: portB, version: "1.2", offer: file, request: request)
            #expect(reused(output), "\(output)")
        }
    }
}
