import Foundation
import Testing

/// `option logasap`: the line goes out early, with `+` on what is not final.
@Suite("option logasap", .serialized)
struct LogASAPTests {
    @Test("http: the line is written once the response head is in, while the body still flows, and only once")
    func httpLineBeforeTheBody() throws {
        let total = 50_000
        let release = DispatchSemaphore(value: 0)
        let backend = try HTTPBackend { request in
            request.target == "/big" ? .partThenRest(total: total, firstWrite: 4096, release: release) : .text(200, "small\n")
        }
        let scenario = try HTTPScenario(config: httpConfig(backend: httpServerLines([backend]), frontend: "    option logasap"),
                                        backends: [backend])
        defer { scenario.close() }
        let c = try scenario.connect()
        defer { c.close() }
        try c.request("GET", "/big")
        // The server holds most of the body back: the line must come anyway.
        let early = try scenario.log(of: c)
        release.signal()
        #expect(early.status == 200 && early.request == "GET /big HTTP/1.1", "\(early)")
        #expect(early.raw.contains("/+\(early.activeTime) 200 +\(early.bytes) "), "%Ta and %B carry a '+': \(early)")
        #expect(early.bytes < total, "logged before the body went out: \(early)")
        // HAProxy's early %B: the response head at least (status line, Content-Length, ...).
        #expect(early.bytes >= "HTTP/1.1 200 OK\r\ncontent-length: \(total)\r\n\r\n".utf8.count, "\(early)")
        #expect(try c.readResponse().body.count == total)
        // A second exchange on the connection: two lines in all, not three.
        try c.request("GET", "/small")
        #expect(try c.readResponse().status == 200)
        let lines = try scenario.logs(clientPort: c.localPort, count: 2)
        #expect(lines.count == 2 && lines[1].request == "GET /small HTTP/1.1", "\(lines)")
    }

    @Test("tcp: the line is written once the server connection is up, with '+' on Tt and the bytes; none at the end")
    func tcpLineAtConnect() throws {
        let backend = try Backend(.echo)
        let scenario = try Scenario(config: tcpConfig(backend: serverLines([backend]), frontend: "    option logasap"),
                                    backends: [backend])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        let line = try scenario.log(of: client)
        #expect(line.raw.contains("/+\(line.totalTime) +\(line.bytes) "), "\(line)")
        #expect(echoes(client, "still open"))
        client.close()
        // Another session's line after this one's end: the first had no second line.
        let other = try Client(port: scenario.port)
        _ = try scenario.log(of: other)
        other.close()
        #expect(scenario.weir.logLines.filter { $0.clientPort == client.localPort }.count == 1)
    }
}
