import Foundation
import Synchronization
import Testing

/// Counts the requests a test backend handler saw, across its threads.
final class RequestCounter: Sendable {
    private let count = Atomic<Int>(0)
    /// 1 for the first request.
    func next() -> Int { count.add(1, ordering: .sequentiallyConsistent).newValue }
    var value: Int { count.load(ordering: .sequentiallyConsistent) }
}

/// `retry-on`: a request that failed is sent again while `retries` allow,
/// only when the proxy still holds all of it and nothing of a response
/// reached the client.
@Suite("HTTP retry-on")
struct HTTPRetryOnTests {
    /// A backend whose first request gets `first`, the others a 200.
    private func failingOnce(_ first: BackendReply) throws -> (HTTPBackend, RequestCounter) {
        let counter = RequestCounter()
        let backend = try HTTPBackend { request in
            counter.next() == 1 ? first : .text(200, "ok \(request.method) \(request.body.count)\n")
        }
        return (backend, counter)
    }

    private func get(_ scenario: HTTPScenario) throws -> (HTTPResponse, HTTPLogLine) {
        let c = try scenario.connect()
        defer { c.close() }
        try c.request("GET", "/")
        let r = try c.readResponse()
        return (r, try scenario.log(of: c))
    }

    @Test("a 503 then a 200: retry-on 503 gives the client the 200; without it the 503 stays")
    func statusRetried() throws {
        do {
            let (backend, counter) = try failingOnce(.text(503, "busy\n"))
            let scenario = try HTTPScenario(backends: [backend], backend: "    retry-on 503\n    retries 2")
            defer { scenario.close() }
            let (r, line) = try get(scenario)
            #expect(r.status == 200 && r.body.text == "ok GET 0\n", "\(r)")
            #expect(counter.value == 2)
            #expect(line.status == 200 && line.retries == "1" && line.termination == "----", "\(line)")
        }
        do {
            let (backend, counter) = try failingOnce(.text(503, "busy\n"))
            let scenario = try HTTPScenario(backends: [backend], backend: "    retries 2")
            defer { scenario.close() }
            let (r, line) = try get(scenario)
            #expect(r.status == 503 && r.body.text == "busy\n", "\(r)")
            #expect(counter.value == 1)
            #expect(line.status == 503 && line.retries == "0", "\(line)")
        }
    }

    @Test("http-request disable-l7-retry: the 503 stays for the requests it matches")
    func disableL7Retry() throws {
        let (backend, counter) = try failingOnce(.text(503, "busy\n"))
        let scenario = try HTTPScenario(backends: [backend], backend: """
                retry-on 503
                http-request disable-l7-retry if { path_beg /once }
            """)
        defer { scenario.close() }
        let c = try scenario.connect()
        defer { c.close() }
        try c.request("GET", "/once")
        let r = try c.readResponse()
        #expect(r.status == 503, "\(r)")
        #expect(counter.value == 1)
        #expect(try scenario.log(of: c).retries == "0")
    }

    @Test("the server closes without answering: retried with retry-on empty-response")
    func emptyResponseRetried() throws {
        let (backend, counter) = try failingOnce(.closeWithoutAnswer)
        let scenario = try HTTPScenario(backends: [backend], backend: "    retry-on empty-response")
        defer { scenario.close() }
        let (r, line) = try get(scenario)
        #expect(r.status == 200, "\(r)")
        #expect(counter.value == 2)
        #expect(line.retries == "1", "\(line)")
    }

    @Test("a response that is not HTTP: retried with retry-on junk-response")
    func junkResponseRetried() throws {
        let (backend, counter) = try failingOnce(.raw(Array("SSH-2.0-OpenSSH\r\n\r\n".utf8), close: true))
        let scenario = try HTTPScenario(backends: [backend], backend: "    retry-on junk-response")
        defer { scenario.close() }
        let (r, line) = try get(scenario)
        #expect(r.status == 200, "\(r)")
        #expect(counter.value == 2)
        #expect(line.retries == "1", "\(line)")
    }

    @Test("timeout server before the response: retried with retry-on response-timeout, 504 without")
    func responseTimeoutRetried() throws {
        do {
            let (backend, counter) = try failingOnce(.neverAnswer)
            let scenario = try HTTPScenario(backends: [backend], backend: "    retry-on response-timeout\n    timeout server 300ms")
            defer { scenario.close() }
            let (r, line) = try get(scenario)
            #expect(r.status == 200, "\(r)")
            #expect(counter.value == 2)
            #expect(line.retries == "1" && line.status == 200, "\(line)")
        }
        do {
            let (backend, _) = try failingOnce(.neverAnswer)
            let scenario = try HTTPScenario(backends: [backend], backend: "    retry-on 503\n    timeout server 300ms")
            defer { scenario.close() }
            let (r, line) = try get(scenario)
            #expect(r.status == 504, "\(r)")
            #expect(line.termination == "sH--" && line.retries == "0", "\(line)")
        }
    }

    @Test("a POST held whole is replayed with its body; one larger than a buffer is not: its 502 stays")
    func onlyHeldBodiesAreReplayed() throws {
        do {
            let (backend, counter) = try failingOnce(.closeWithoutAnswer)
            let scenario = try HTTPScenario(backends: [backend], backend: "    retry-on empty-response")
            defer { scenario.close() }
            let c = try scenario.connect()
            defer { c.close() }
            let body = HTTPPattern.bytes(8000)
            try c.request("POST", "/upload", body: body)
            let r = try c.readResponse()
            #expect(r.status == 200 && r.body.text == "ok POST 8000\n", "\(r)")
            #expect(counter.value == 2)
            let requests = backend.requests
            #expect(requests.count == 2 && requests.allSatisfy { $0.body.checksum == HTTPChecksum.of(body) })
        }
        do {
            let (backend, counter) = try failingOnce(.closeWithoutAnswer)
            let scenario = try HTTPScenario(backends: [backend], backend: "    retry-on empty-response")
            defer { scenario.close() }
            let c = try scenario.connect()
            defer { c.close() }
            try c.request("POST", "/upload", body: HTTPPattern.bytes(40_000))
            let r = try c.readResponse()
            #expect(r.status == 502, "\(r)")
            #expect(counter.value == 1)
            let line = try scenario.log(of: c)
            #expect(line.status == 502 && line.retries == "0", "\(line)")
        }
    }

    @Test("a held request that fills the buffer exactly, then the next one pipelined before the response")
    func heldRequestFillingTheBuffer() throws {
        let counter = RequestCounter()
        let backend = try HTTPBackend { request in
            let reply = BackendReply.text(200, "ok \(request.body.count)\n")
            return counter.next() == 1 ? .after(milliseconds: 200, reply) : reply
        }
        let scenario = try HTTPScenario(backends: [backend], backend: "    retry-on 503")
        defer { scenario.close() }
        let c = try scenario.connect()
        defer { c.close() }
        let head = { (n: Int) in "POST /p HTTP/1.1\r\nhost: weir.test\r\ncontent-length: \(n)\r\n\r\n" }
        // 16384 bytes in all, tune.bufsize: the buffer ends exactly with the request.
        var bodyLength = 16384 - head(16000).utf8.count
        if head(bodyLength).utf8.count != head(16000).utf8.count { bodyLength -= 1 }
        try c.send(Array(head(bodyLength).utf8) + HTTPPattern.bytes(bodyLength))
        #expect(waitUntil(timeout: 10) { backend.requests.count == 1 })
        try c.send(Array(head(3000).utf8) + HTTPPattern.bytes(3000))
        let first = try c.readResponse()
        let second = try c.readResponse()
        #expect(first.status == 200 && first.body.text == "ok \(bodyLength)\n", "\(first)")
        #expect(second.status == 200 && second.body.text == "ok 3000\n", "\(second)")
        #expect(backend.requests.map(\.body.count) == [bodyLength, 3000])
    }

    @Test("retry-on none: a refused connect is not retried")
    func noneDisablesConnectRetries() throws {
        let dead = try Sock.refusedPort()
        let live = try HTTPBackend(name: "s2")
        let config = httpConfig(backend: """
                balance roundrobin
                retry-on none
                retries 3
                option redispatch
                server s1 127.0.0.1:\(dead)
                server s2 \(live.address)
            """)
        let scenario = try HTTPScenario(config: config, backends: [live])
        defer { scenario.close() }
        var statuses: [Int] = []
        for _ in 0..<4 { statuses.append(try get(scenario).0.status) }
        #expect(statuses.sorted() == [200, 200, 503, 503], "\(statuses)")
    }

    @Test("retry-on conn-failure + option redispatch, one dead server of two, steady load: no client error")
    func deadServerUnderLoad() throws {
        let dead = try Sock.refusedPort()
        let live = try HTTPBackend(name: "s2")
        let socket = statsSocketPath()
        let config = httpConfig(backend: """
                balance roundrobin
                retry-on conn-failure 503
                retries 3
                option redispatch
                server s1 127.0.0.1:\(dead)
                server s2 \(live.address)
            """, global: "    stats socket \(socket) level admin")
        let scenario = try HTTPScenario(config: config, backends: [live])
        defer { scenario.close() }
        let failures = Mutex<[String]>([])
        let clients = 4
        let perClient = 50
        DispatchQueue.concurrentPerform(iterations: clients) { _ in
            do {
                let c = try scenario.connect()
                defer { c.close() }
                for i in 0..<perClient {
                    try c.request("GET", "/\(i)")
                    let r = try c.readResponse()
                    if r.status != 200 { failures.withLock { $0.append("\(r.status)") } }
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        #expect(live.requests.count == clients * perClient)
        let lines = scenario.logLines
        #expect(lines.contains { $0.retries == "+1" }, "\(lines.map(\.raw).prefix(10))")
        let stat = try showStat(socket)
        #expect(stat.int("be/BACKEND", "wretr") >= 1 && stat.int("be/BACKEND", "wredis") >= 1, "\(stat)")
        #expect(stat.int("be/s1", "wredis") >= 1, "\(stat)")
    }
}

/// `observe layer7` sees every failed attempt, the retried ones too: a
/// server whose failures retries hide from clients is still marked DOWN.
@Suite("HTTP retry-on and passive checks")
struct HTTPRetryOnObserveTests {
    private func scenario(failing: BackendReply, retryOn: String) throws -> (HTTPScenario, HTTPBackend) {
        let bad = try HTTPBackend(name: "s1") { _ in failing }
        let good = try HTTPBackend(name: "s2")
        let config = httpConfig(backend: """
                balance roundrobin
                retries 2
                option redispatch
                retry-on \(retryOn)
                server s1 \(bad.address) check inter 10s observe layer7 error-limit 2 on-error mark-down
                server s2 \(good.address)
            """)
        return (try HTTPScenario(config: config, backends: [bad, good]), bad)
    }

    @Test("a server answering 503, retried elsewhere: clients get 200s, and s1 is marked DOWN by its errors",
          arguments: [("503", BackendReply.text(503, "busy\n")), ("empty-response", .closeWithoutAnswer)])
    func retriedFailuresAreObserved(retryOn: String, failing: BackendReply) throws {
        let (scenario, bad) = try scenario(failing: failing, retryOn: retryOn)
        defer { scenario.close() }
        var statuses: [Int] = []
        for i in 0..<8 {
            let c = try scenario.connect()
            try c.request("GET", "/\(i)")
            statuses.append(try c.readResponse().status)
            c.close()
        }
        #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses)")
        let down = scenario.weir.stderr.waitForLine(timeout: 10) { $0.contains("Server be/s1 is DOWN") }
        let line = try #require(down, "\(scenario.weir.stderr.text)")
        #expect(line.contains("reason: Health analyze"), "\(line)")
        // Once DOWN, s1 gets no more requests.
        let seen = bad.requests.count
        for i in 0..<4 {
            let c = try scenario.connect()
            try c.request("GET", "/after\(i)")
            #expect(try c.readResponse().status == 200)
            c.close()
        }
        #expect(bad.requests.count == seen)
    }
}
