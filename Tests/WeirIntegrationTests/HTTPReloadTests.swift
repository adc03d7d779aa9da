import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Reloads in mode http: keep-alive clients move to the new generation
/// without a failed request, and idle keep-alive connections do not hold the
/// old workers until `timeout http-keep-alive`.
@Suite("HTTP: reload", .serialized)
struct HTTPReloadTests {
    @Test("5 reloads under keep-alive HTTP load: every request answered, old workers exit long before timeout http-keep-alive")
    func reloadsUnderKeepAliveLoad() throws {
        let backend = try HTTPBackend()
        defer { backend.stop() }
        let h = try MasterHarness(config: """
            global
                nbthread 2
            defaults
                mode http
                timeout connect 2s
                timeout client 60s
                timeout server 30s
                timeout http-keep-alive 60s
            frontend fe
                bind 127.0.0.1:0
                default_backend be
            backend be
                server s1 \(backend.address)
            """)
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        let load = KeepAliveHTTPLoad(port: port, clients: 8)
        defer { _ = load.stop() }
        try #require(load.waitForAnswers(50), "the load does not run: \(load.snapshot)")
        // Clients that made one request and stay connected, idle.
        var idle: [HTTPConnection] = []
        defer { idle.forEach { $0.close() } }
        for i in 0..<4 {
            let c = try HTTPConnection(port: port)
            try c.request("GET", "/idle\(i)")
            let response = try c.readResponse()
            try #require(response.status == 200 && !response.closes, "\(response)")
            idle.append(c)
        }

        for i in 1...5 {
            #expect(h.reloadBySignal(SIGUSR2), "reload \(i) did not end in 'Loading success.'; \(h.output)")
            #expect(load.waitForAnswers(50), "the load stalled after reload \(i): \(load.snapshot)")
        }
        // Idle keep-alive clients of the old generations are closed between
        // requests: the old workers leave long before the 60 s keep-alive.
        let (drained, last) = h.waitForNoOldWorkers(timeout: 15)
        #expect(drained, "old workers still listed 15 s after the last reload:\n\(last?.raw ?? "no show proc")")
        for (i, c) in idle.enumerated() {
            #expect(c.isClosedByPeer(within: 5), "idle connection \(i) of the first generation is still open")
        }
        let report = load.stop()
        #expect(report.failures.isEmpty, "\(report)")
        #expect(report.reconnects > 0, "no client was ever asked to move to a new generation: \(report)")
        h.expectNoWorkerCrash()
    }
}

/// Clients that send GETs one after the other on keep-alive connections, as
/// a browser does: a response saying `connection: close` ends the connection,
/// and a request on a reused connection that the proxy closed before
/// answering a single byte is sent again on a new connection (RFC 9112
/// §9.3.1); anything else is a failure.
final class KeepAliveHTTPLoad: @unchecked Sendable {
    struct Report: CustomStringConvertible {
        var answered = 0
        var reconnects = 0
        var retries = 0
        var failures: [String] = []
        var description: String {
            "\(answered) answered, \(reconnects) reconnects, \(retries) retried, \(failures.count) failures: \(failures.prefix(5))"
        }
    }

    private let report = Mutex(Report())
    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Int>(0)
    private let clients: Int

    init(port: UInt16, clients: Int) {
        self.clients = clients
        for i in 0..<clients {
            Thread.detachNewThread { [self] in
                run(port: port, client: i)
                finished.add(1, ordering: .sequentiallyConsistent)
            }
        }
    }

    var snapshot: Report { report.withLock { $0 } }

    /// Waits until `n` more requests have been answered (at most 10 s).
    func waitForAnswers(_ n: Int, timeout: Double = 10) -> Bool {
        let target = snapshot.answered + n
        return waitUntil(timeout: timeout) { self.snapshot.answered >= target }
    }

    func stop() -> Report {
        stopping.store(true, ordering: .sequentiallyConsistent)
        _ = waitUntil(timeout: 15) { self.finished.load(ordering: .sequentiallyConsistent) == self.clients }
        return snapshot
    }

    private func run(port: UInt16, client: Int) {
        var connection: HTTPConnection?
        var reused = false
        var sent = 0
        // Bounded: a client stops after 100,000 requests whatever happens.
        while !stopping.load(ordering: .sequentiallyConsistent) && sent < 100_000 {
            sent += 1
            do {
                if connection == nil {
                    connection = try HTTPConnection(port: port, ioTimeout: 10)
                    reused = false
                }
                let c = connection!
                do {
                    try c.request("GET", "/c\(client)/r\(sent)")
                    let response = try c.readResponse()
                    guard response.status == 200, response.complete else {
                        report.withLock { $0.failures.append("client \(client) request \(sent): \(response)") }
                        c.close(); connection = nil
                        continue
                    }
                    report.withLock { $0.answered += 1 }
                    reused = true
                    if response.closes {
                        c.close(); connection = nil
                        report.withLock { $0.reconnects += 1 }
                    }
                } catch let end as HTTPByteReader.End where reused && (end == .eof || end == .reset) {
                    // The idle connection was closed as the request left:
                    // nothing was answered, so the request is sent again.
                    c.close(); connection = nil
                    report.withLock { $0.retries += 1; $0.reconnects += 1 }
                    sent -= 1
                } catch let failure as Sock.Failure where reused && (failure.code == EPIPE || failure.code == ECONNRESET) {
                    c.close(); connection = nil
                    report.withLock { $0.retries += 1; $0.reconnects += 1 }
                    sent -= 1
                }
            } catch {
                report.withLock { $0.failures.append("client \(client) request \(sent): \(error)") }
                connection?.close(); connection = nil
            }
        }
        connection?.close()
    }
}
