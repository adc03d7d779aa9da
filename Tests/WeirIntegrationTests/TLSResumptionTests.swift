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
    var arguments = ["-ign_eof", version == "1.2" ? "-tls1_2" : "-tls1_3"]
    if let save { arguments += ["-sess_out", save] }
    if let offer { arguments += ["-sess_in", offer] }
    // The request comes from a file on stdin; the server closes after its answer (`Connection: close`).
    let text = try sClient(port: port, serverName: "a.test", extra: arguments, input: request).stdout
    let lines = text.split(whereSeparator: \.isNewline)
    let reused = lines.contains { $0.hasPrefix("Reused, TLSv") }
    let pid = lines.first { $0.hasPrefix("pid=") }.flatMap { Int($0.dropFirst(4)) }
    return Resumption(reused: reused, pid: pid, output: text)
}

/// A directory with the certificate `a.test`, an HTTP request file, and
/// room for saved sessions.
private final class ResumptionFiles: @unchecked Sendable {
    let pki: TestPKI
    let a: TestCertificate
    let request: String

    init() throws {
        pki = try TestPKI()
        a = try pki.aTest()
        request = try pki.write("GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", to: "request")
    }

    func session(_ name: String) -> String { pki.path(name + ".sess") }

    /// `count` base64 lines of `bytes` random bytes, as `openssl rand` makes them.
    func keyFile(_ name: String, count: Int, bytes: Int = 80) throws -> String {
        var lines: [String] = []
        for _ in 0..<count {
            lines.append(try pki.openssl(["rand", "-base64", String(bytes)]).replacingOccurrences(of: "\n", with: ""))
        }
        return try pki.write(lines.joined(separator: "\n") + "\n", to: name)
    }

    func remove() { pki.remove() }
}

/// A `mode http` frontend `fe` answering `pid=<worker pid>` itself.
private func resumptionConfig(global: [String] = [], binds: [String]) -> String {
    tlsTestConfig(global: global, (["frontend fe"] + (binds.map { "bind " + $0 } + [answerWorkerPID]).map { "    " + $0 })
        .joined(separator: "\n"))
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
        let h = try MasterHarness(config: resumptionConfig(global: ["nbthread 4"], binds: [
            "127.0.0.1:0 ssl crt \(files.a.pem)",
            "127.0.0.1:0 ssl crt \(files.a.pem) no-tls-tickets",
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
        let h = try MasterHarness(config: resumptionConfig(global: ["nbthread 2"], binds: [
            "127.0.0.1:0 ssl crt \(files.a.pem)",
            "127.0.0.1:0 ssl crt \(files.a.pem) no-tls-tickets",
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
            "127.0.0.1:0 ssl crt \(files.a.pem)",
            "127.0.0.1:0 ssl crt \(files.a.pem)",
            "127.0.0.1:0 ssl crt \(files.a.pem) alpn http/1.1",
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
        let withFile = resumptionConfig(binds: ["127.0.0.1:0 ssl crt \(files.a.pem) tls-ticket-keys \(keys)"])
        let one = try WeirProcess.start(config: withFile)
        defer { one.stop() }
        let two = try WeirProcess.start(config: withFile)
        defer { two.stop() }
        let withoutFile = resumptionConfig(binds: ["127.0.0.1:0 ssl crt \(files.a.pem)"])
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
        let missing = files.pki.path("missing.keys")
        let short = try files.keyFile("short.keys", count: 2)
        let wrongSize = try files.keyFile("size.keys", count: 3, bytes: 64)
        let garbage = try files.pki.write("not base64 at all!\n", to: "garbage.keys")
        let a = files.a.pem
        let run = try checkConfiguration(tlsTestConfig("""
            frontend fe
                bind 127.0.0.1:0 ssl crt \(a) tls-ticket-keys \(missing)
                bind 127.0.0.1:0 ssl crt \(a) tls-ticket-keys \(short)
                bind 127.0.0.1:0 ssl crt \(a) tls-ticket-keys \(wrongSize)
                bind 127.0.0.1:0 ssl crt \(a) tls-ticket-keys \(garbage)
                http-request return status 200
            """))
        #expect(run.status == 1)
        // The value after `tls-ticket-keys`, after `    bind 127.0.0.1:0 ssl crt PATH tls-ticket-keys `.
        let col = 47 + a.count
        let expected = [
            "\(run.path):7:\(col): error: bind: cannot read tls-ticket-keys '\(missing)': No such file or directory",
            "\(run.path):8:\(col): error: bind: tls-ticket-keys '\(short)' holds 2 keys; at least 3 are needed",
            "\(run.path):9:\(col): error: bind: tls-ticket-keys '\(wrongSize)' line 1: a key is 48 or 80 bytes, this one is 64",
            "\(run.path):10:\(col): error: bind: tls-ticket-keys '\(garbage)' line 1: not a base64-encoded key",
        ]
        for line in expected { #expect(run.stderr.contains(line), "missing \(line) in:\n\(run.stderr)") }
    }

    @Test("tune.ssl.cachesize 0: with tickets off there is nothing to resume; tickets still resume")
    func cacheSizeZero() throws {
        let files = try ResumptionFiles()
        defer { files.remove() }
        let weir = try WeirProcess.start(config: resumptionConfig(global: ["tune.ssl.cachesize 0"], binds: [
            "127.0.0.1:0 ssl crt \(files.a.pem) no-tls-tickets",
            "127.0.0.1:0 ssl crt \(files.a.pem)",
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
