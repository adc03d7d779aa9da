import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// TLS session resumption with `openssl s_client -sess_out` / `-sess_in`:
// across the workers of one master, across a reload, between two weir with
// the same `tls-ticket-keys`, and through the shared session cache.

/// What one `s_client` connection said: whether it resumed, and the pid of
/// the worker that answered (the frontend returns `pid=%pid`).
private struct Resumption {
    var reused: Bool
    var pid: Int?
    var output: String
}

/// One HTTPS request with `openssl s_client` (TLS `version`: "1.2" or
/// "1.3"), saving the session to `save` or offering the one in `offer`.
private func resume(port: UInt16, version: String, save: String? = nil, offer: String? = nil,
                    request: String) throws -> Resumption {
    var arguments = ["s_client", "-connect", "127.0.0.1:\(port)", "-servername", "a.test", "-ign_eof",
                     version == "1.2" ? "-tls1_2" : "-tls1_3"]
    if let save { arguments += ["-sess_out", save] }
    if let offer { arguments += ["-sess_in", offer] }
    // The request comes from a file on stdin; the server closes after its answer (`Connection: close`).
    let run = try runTool("/bin/sh", ["-c", "f=$1; shift; exec \"$@\" < \"$f\" 2>/dev/null", "sh", request, opensslPath] + arguments,
                          timeout: 15)
    let text = run.stdout
    let lines = text.split(whereSeparator: \.isNewline)
    let reused = lines.contains { $0.hasPrefix("Reused, TLSv") }
    let pid = lines.first { $0.hasPrefix("pid=") }.flatMap { Int($0.dropFirst(4)) }
    return Resumption(reused: reused, pid: pid, output: text)
}

/// A directory with the certificate `a.test`, an HTTP request file, and
/// room for saved sessions.
private final class ResumptionFiles: @unchecked Sendable {
    let certs: TestCertificates
    var dir: String { certs.dir }
    var request: String { dir + "/request" }

    init() throws {
        certs = try TestCertificates()
        try "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n".write(toFile: request, atomically: true, encoding: .utf8)
    }

    func session(_ name: String) -> String { dir + "/" + name + ".sess" }

    /// `count` base64 lines of `bytes` random bytes, as `openssl rand` makes them.
    func keyFile(_ name: String, count: Int, bytes: Int = 80) throws -> String {
        var lines: [String] = []
        for _ in 0..<count {
            let run = try runTool(opensslPath, ["rand", "-base64", String(bytes)], timeout: 10)
            lines.append(run.stdout.replacingOccurrences(of: "\n", with: ""))
        }
        let path = dir + "/" + name
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func remove() { certs.remove() }
}

/// A `mode http` frontend `fe` answering `pid=<worker pid>` itself.
private func resumptionConfig(global: String = "", binds: [String]) -> String {
    """
    global
    \(global)
    defaults
        mode http
        timeout connect 2s
        timeout client 10s
        timeout server 10s
    frontend fe
    \(binds.map { "    bind " + $0 }.joined(separator: "\n"))
        http-request return status 200 content-type text/plain lf-string "pid=%pid\\n"
    """
}

@Suite("TLS session resumption", .serialized, .enabled(if: hasOpenSSL))
struct TLSResumptionTests {
    /// Tickets (index 0) and `no-tls-tickets` (index 1: the shared session
    /// cache), each with TLS 1.2 and TLS 1.3.
    private static let variants = [(bind: 0, version: "1.2"), (bind: 0, version: "1.3"), (bind: 1, version: "1.2"), (bind: 1, version: "1.3")]

    @Test("4 workers: after one full handshake, 12 connections all resume (tickets and the shared cache, TLS 1.2 and 1.3), served by several workers")
    func resumptionAcrossWorkers() throws {
        let files = try ResumptionFiles()
        defer { files.remove() }
        let h = try MasterHarness(config: resumptionConfig(global: "    nbthread 4", binds: [
            "127.0.0.1:0 ssl crt \(files.certs.a)",
            "127.0.0.1:0 ssl crt \(files.certs.a) no-tls-tickets",
        ]))
        defer { h.close() }
        for variant in Self.variants {
            let port = try h.master.port(of: "fe", index: variant.bind)
            let name = "v\(variant.bind)-\(variant.version)"
            let first = try resume(port: port, version: variant.version, save: files.session(name), request: files.request)
            #expect(!first.reused && first.pid != nil, "\(name): \(first.output)")
            var pids = Set<Int>()
            for _ in 0..<12 {
                let again = try resume(port: port, version: variant.version, offer: files.session(name), request: files.request)
                #expect(again.reused, "\(name): \(again.output)")
                if let pid = again.pid { pids.insert(pid) }
            }
            // SO_REUSEPORT spreads connections over the 4 workers by a hash
            // of the client's port: all 12 on one worker has a chance of
            // 4 × (1/4)^12 ≈ 6e-8, so resumption really crossed workers.
            #expect(pids.count >= 2, "\(name): every connection went to \(pids)")
        }
        h.expectNoWorkerCrash()
    }

    @Test("a session from before a reload resumes after it (tickets and the shared cache, TLS 1.2 and 1.3)")
    func resumptionAcrossReload() throws {
        let files = try ResumptionFiles()
        defer { files.remove() }
        let h = try MasterHarness(config: resumptionConfig(global: "    nbthread 2", binds: [
            "127.0.0.1:0 ssl crt \(files.certs.a)",
            "127.0.0.1:0 ssl crt \(files.certs.a) no-tls-tickets",
        ]))
        defer { h.close() }
        var before = Set<Int>()
        for variant in Self.variants {
            let port = try h.master.port(of: "fe", index: variant.bind)
            let first = try resume(port: port, version: variant.version, save: files.session("v\(variant.bind)-\(variant.version)"),
                                   request: files.request)
            #expect(!first.reused, "\(first.output)")
            if let pid = first.pid { before.insert(pid) }
        }
        let (success, answer) = try h.reload()
        #expect(success, "\(answer)")
        // Once the old workers are gone, only the new generation answers.
        let drained = h.waitForNoOldWorkers(timeout: 20)
        #expect(drained.done, "\(String(describing: drained.last))")
        for variant in Self.variants {
            let port = try h.master.port(of: "fe", index: variant.bind)
            let name = "v\(variant.bind)-\(variant.version)"
            for _ in 0..<3 {
                let again = try resume(port: port, version: variant.version, offer: files.session(name), request: files.request)
                #expect(again.reused, "\(name): \(again.output)")
                // Served by the new generation's workers, which never saw the session.
                #expect(again.pid.map { !before.contains($0) } == true, "\(name): pid \(String(describing: again.pid)) \(before)")
            }
        }
        h.expectNoWorkerCrash()
    }

    @Test("a session resumes on another bind line with the same settings, not on one with other settings")
    func sessionIDContextPerSettings() throws {
        let files = try ResumptionFiles()
        defer { files.remove() }
        let weir = try WeirProcess.start(config: resumptionConfig(binds: [
            "127.0.0.1:0 ssl crt \(files.certs.a)",
            "127.0.0.1:0 ssl crt \(files.certs.a)",
            "127.0.0.1:0 ssl crt \(files.certs.a) alpn http/1.1",
        ]))
        defer { weir.stop() }
        for version in ["1.2", "1.3"] {
            let saved = files.session("ctx-\(version)")
            let first = try resume(port: weir.port(of: "fe", index: 0), version: version, save: saved, request: files.request)
            #expect(!first.reused, "\(first.output)")
            let alike = try resume(port: weir.port(of: "fe", index: 1), version: version, offer: saved, request: files.request)
            #expect(alike.reused, "TLS \(version): \(alike.output)")
            let other = try resume(port: weir.port(of: "fe", index: 2), version: version, offer: saved, request: files.request)
            #expect(!other.reused && other.pid != nil, "TLS \(version): \(other.output)")
        }
    }

    @Test("tls-ticket-keys: two weir with the same file resume each other's sessions; two without it do not")
    func sharedTicketKeysFile() throws {
        let files = try ResumptionFiles()
        defer { files.remove() }
        let keys = try files.keyFile("tickets.keys", count: 4)
        let withFile = resumptionConfig(binds: ["127.0.0.1:0 ssl crt \(files.certs.a) tls-ticket-keys \(keys)"])
        let one = try WeirProcess.start(config: withFile)
        defer { one.stop() }
        let two = try WeirProcess.start(config: withFile)
        defer { two.stop() }
        let withoutFile = resumptionConfig(binds: ["127.0.0.1:0 ssl crt \(files.certs.a)"])
        let three = try WeirProcess.start(config: withoutFile)
        defer { three.stop() }
        let four = try WeirProcess.start(config: withoutFile)
        defer { four.stop() }
        for version in ["1.2", "1.3"] {
            let first = try resume(port: one.port(of: "fe"), version: version, save: files.session("file-\(version)"),
                                   request: files.request)
            #expect(!first.reused, "\(first.output)")
            let other = try resume(port: two.port(of: "fe"), version: version, offer: files.session("file-\(version)"),
                                   request: files.request)
            #expect(other.reused, "TLS \(version): \(other.output)")
            let own = try resume(port: three.port(of: "fe"), version: version, save: files.session("own-\(version)"),
                                 request: files.request)
            #expect(!own.reused, "\(own.output)")
            let elsewhere = try resume(port: four.port(of: "fe"), version: version, offer: files.session("own-\(version)"),
                                       request: files.request)
            #expect(!elsewhere.reused && elsewhere.pid != nil, "TLS \(version): \(elsewhere.output)")
        }
    }

    @Test("a bad tls-ticket-keys file is a configuration error at file:line:col")
    func badTicketKeysFile() throws {
        let files = try ResumptionFiles()
        defer { files.remove() }
        let missing = files.dir + "/missing.keys"
        let short = try files.keyFile("short.keys", count: 2)
        let wrongSize = try files.keyFile("size.keys", count: 3, bytes: 64)
        let garbage = files.dir + "/garbage.keys"
        try "not base64 at all!\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        let a = files.certs.a
        let file = try TempFile("""
            defaults
                mode http
                timeout connect 2s
                timeout client 10s
                timeout server 10s
            frontend fe
                bind 127.0.0.1:0 ssl crt \(a) tls-ticket-keys \(missing)
                bind 127.0.0.1:0 ssl crt \(a) tls-ticket-keys \(short)
                bind 127.0.0.1:0 ssl crt \(a) tls-ticket-keys \(wrongSize)
                bind 127.0.0.1:0 ssl crt \(a) tls-ticket-keys \(garbage)
                http-request return status 200
            """)
        defer { file.remove() }
        let run = try WeirProcess.run(["-c", "-f", file.path])
        #expect(run.status == 1)
        // The value after `tls-ticket-keys`, after `    bind 127.0.0.1:0 ssl crt PATH tls-ticket-keys `.
        let col = 47 + a.count
        let expected = [
            "\(file.path):7:\(col): error: bind: cannot read tls-ticket-keys '\(missing)': No such file or directory",
            "\(file.path):8:\(col): error: bind: tls-ticket-keys '\(short)' holds 2 keys; at least 3 are needed",
            "\(file.path):9:\(col): error: bind: tls-ticket-keys '\(wrongSize)' line 1: a key is 48 or 80 bytes, this one is 64",
            "\(file.path):10:\(col): error: bind: tls-ticket-keys '\(garbage)' line 1: not a base64-encoded key",
        ]
        for line in expected { #expect(run.stderr.contains(line), "missing \(line) in:\n\(run.stderr)") }
    }

    @Test("tune.ssl.cachesize 0: with tickets off there is nothing to resume; tickets still resume")
    func cacheSizeZero() throws {
        let files = try ResumptionFiles()
        defer { files.remove() }
        let weir = try WeirProcess.start(config: resumptionConfig(global: "    tune.ssl.cachesize 0", binds: [
            "127.0.0.1:0 ssl crt \(files.certs.a) no-tls-tickets",
            "127.0.0.1:0 ssl crt \(files.certs.a)",
        ]))
        defer { weir.stop() }
        for version in ["1.2", "1.3"] {
            let stateful = try weir.port(of: "fe", index: 0)
            let saved = files.session("off-\(version)")
            let first = try resume(port: stateful, version: version, save: saved, request: files.request)
            // Nothing to resume is handed out: no ticket (not even a TLS 1.3
            // stateful one) and, in TLS 1.2, an empty session ID; so
            // s_client has no session to save, let alone offer.
            #expect(first.pid != nil && !first.output.contains("TLS session ticket:"), "TLS \(version): \(first.output)")
            if version == "1.2" {
                let sessionID = first.output.split(whereSeparator: \.isNewline).first { $0.contains("Session-ID:") }
                #expect(sessionID?.trimmingCharacters(in: .whitespaces) == "Session-ID:", "\(first.output)")
            }
            #expect(!FileManager.default.fileExists(atPath: saved), "TLS \(version): a session was saved:\n\(first.output)")
            let tickets = try weir.port(of: "fe", index: 1)
            _ = try resume(port: tickets, version: version, save: files.session("on-\(version)"), request: files.request)
            let resumed = try resume(port: tickets, version: version, offer: files.session("on-\(version)"), request: files.request)
            #expect(resumed.reused, "TLS \(version): \(resumed.output)")
        }
    }
}
