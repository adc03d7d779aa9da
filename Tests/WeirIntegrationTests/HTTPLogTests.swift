import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The `option httplog` line, field by field, and one line per request.
@Suite("HTTP log")
struct HTTPLogTests {
    @Test("httplog: every field of a successful request's line")
    func fields() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/logged/path?x=1")
        let r = try c.readResponse()
        #expect(r.status == 200)
        let line = try scenario.log(of: c)
        #expect(line.clientAddress == "127.0.0.1")
        #expect(line.clientPort == c.localPort)
        #expect(line.date.wholeMatch(of: /\d\d\/[A-Z][a-z][a-z]\/\d{4}:\d\d:\d\d:\d\d\.\d{3}/) != nil, "date \(line.date)")
        #expect(line.frontend == "fe")
        #expect(line.backend == "be")
        #expect(line.server == "s1")
        #expect(line.timers.allSatisfy { $0 >= 0 }, "timers \(line.timers) in \(line)")
        #expect(line.activeTime >= line.responseTime, "\(line)")
        #expect(line.status == 200)
        #expect(line.bytes == r.wireBytes, "logged \(line.bytes) bytes, the client received \(r.wireBytes): \(line)")
        #expect(line.cookies == "- -")
        #expect(line.termination == "----", "\(line)")
        #expect(line.connections.allSatisfy { $0 >= 0 }, "\(line)")
        #expect(line.connections[0] >= 1 && line.connections[1] >= 1, "ac/fc count this connection: \(line)")
        #expect(line.retries == "0")
        #expect(line.serverQueue == 0 && line.backendQueue == 0)
        #expect(line.request == "GET /logged/path?x=1 HTTP/1.1")
    }

    @Test("tune.http.logurilen: the logged request line is cut at that length")
    func requestLineLength() throws {
        let backend = try HTTPBackend()
        let lines = httpServerLines([backend])
        let scenario = try HTTPScenario(config: httpConfig(backend: lines, global: "    tune.http.logurilen 16"), backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.request("GET", "/a/rather/long/path")
        #expect(try c.readResponse().status == 200)
        #expect(try scenario.log(of: c).request == "GET /a/rather/lo")
    }

    @Test("httplog: one line per request on a keep-alive connection")
    func linePerRequest() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        var sizes: [Int] = []
        for path in ["/first", "/second", "/third"] {
            try c.request("GET", path)
            let r = try c.readResponse()
            #expect(r.status == 200)
            sizes.append(r.wireBytes)
        }
        let lines = try scenario.logs(clientPort: c.localPort, count: 3)
        #expect(lines.map(\.request) == ["GET /first HTTP/1.1", "GET /second HTTP/1.1", "GET /third HTTP/1.1"])
        #expect(lines.map(\.bytes) == sizes)
        #expect(lines.allSatisfy { $0.termination == "----" && $0.server == "s1" }, "\(lines)")
        // The client is still connected: the lines came at the end of each exchange.
        try c.request("GET", "/fourth")
        #expect(try c.readResponse().status == 200)
    }

    @Test("httplog: a request the proxy rejects is logged with <NOSRV> and -1 for steps never reached")
    func rejectedRequest() throws {
        let backend = try HTTPBackend()
        let scenario = try HTTPScenario(backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        try c.send("HELLO\r\n\r\n")
        _ = try? c.readResponse()
        let line = try scenario.log(of: c)
        #expect(line.status == 400)
        #expect(line.server == "<NOSRV>", "\(line)")
        // The head was never validly received, no server was picked, nothing connected.
        #expect(line.headerTime == -1, "TR: \(line)")
        #expect(line.timers[1] == -1 && line.timers[2] == -1 && line.timers[3] == -1, "Tw/Tc/Tr: \(line)")
        #expect(line.activeTime >= 0, "\(line)")
        #expect(line.request == "<BADREQ>", "\(line)")
    }
}

/// Many clients at once.
@Suite("HTTP load")
struct HTTPLoadTests {
    @Test("1,000 concurrent keep-alive clients, 2 requests each: all 2,000 answered", .timeLimit(.minutes(2)))
    func thousandClients() throws {
        let backend = try HTTPBackend()
        let config = httpConfig(backend: httpServerLines([backend]), global: "    maxconn 4000")
        let scenario = try HTTPScenario(config: config, backends: [backend])
        defer { scenario.close() }
        let started = monotonicNow()
        let count = 1000
        var clients: [HTTPConnection] = []
        for _ in 0..<count {
            clients.append(try scenario.connect(ioTimeout: 20))
        }
        defer { for c in clients { c.close() } }
        var answered = 0
        var failures: [String] = []
        for round in 1...2 {
            // Every client has a request in flight before any response is read.
            for (i, c) in clients.enumerated() {
                try c.request("GET", "/c\(i)/\(round)")
            }
            for (i, c) in clients.enumerated() {
                do {
                    let r = try c.readResponse()
                    if r.status == 200 && r.text == "s1 GET /c\(i)/\(round)\n" {
                        answered += 1
                    } else if failures.count < 5 {
                        failures.append("client \(i) round \(round): \(r)")
                    }
                } catch {
                    if failures.count < 5 { failures.append("client \(i) round \(round): \(error)") }
                }
                try #require(monotonicNow() - started < 90, "still reading after 90 s (\(answered) answered)")
            }
        }
        #expect(answered == 2 * count, "\(answered) answered; first failures: \(failures)")
        #expect(monotonicNow() - started < 60)
    }
}
