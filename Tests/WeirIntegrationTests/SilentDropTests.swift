import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `tcp-request connection|content silent-drop`: the client gets no byte,
/// only a reset (on loopback it arrives: the TTL of 1 does not matter).
@Suite("silent-drop in tcp-request rules", .serialized)
struct SilentDropTests {
    private func httpScenario(frontend: String) throws -> HTTPScenario {
        let server = try HTTPBackend(name: "app") { request in .text(200, "app \(request.target)\n") }
        return try HTTPScenario(config: rulesConfig(frontend: frontend + "\n    default_backend app",
                                                    sections: "backend app\n    server app \(server.address)\n"),
                                backends: [server])
    }

    @Test("tcp-request connection silent-drop: a reset before any byte, nothing reaches the server")
    func connection() throws {
        let s = try httpScenario(frontend: "    tcp-request connection silent-drop")
        defer { s.close() }
        let c = try s.connect()
        do {
            try c.request("GET", "/")
            let (bytes, end) = c.readToEnd()
            #expect(bytes.isEmpty && end == .reset, "\(end)")
        } catch {
            // The reset may come before the request is even written.
            #expect("\(error)".contains("errno \(ECONNRESET)"), "\(error)")
        }
        #expect(s.backends[0].requests.isEmpty)
    }

    @Test("tcp-request content silent-drop in mode http: a reset, logged PR--; other requests pass")
    func httpContent() throws {
        let s = try httpScenario(frontend: "    tcp-request content silent-drop if { path_beg /drop }")
        defer { s.close() }
        let dropped = try s.connect()
        try dropped.request("GET", "/drop")
        let (bytes, end) = dropped.readToEnd()
        #expect(bytes.isEmpty && end == .reset, "\(end)")
        let line = try s.log(of: dropped)
        #expect(line.termination == "PR--" && line.server == "<NOSRV>", "\(line)")
        let kept = try s.connect()
        try kept.request("GET", "/fine")
        #expect(try kept.readResponse().text == "app /fine\n")
        #expect(s.backends[0].requests.count == 1)
    }

    @Test("tcp-request content silent-drop in mode tcp: a reset on the inspected bytes, logged PR")
    func tcpContent() throws {
        let backend = try Backend(.name("s1"))
        let scenario = try Scenario(config: tcpConfig(backend: serverLines([backend]), frontend: """
                tcp-request inspect-delay 5s
                tcp-request content silent-drop if { req.payload(0,4) -m str DROP }
                tcp-request content accept if { req.len gt 0 }
            """), backends: [backend])
        defer { scenario.close() }
        let dropped = try Client(port: scenario.port)
        try dropped.send("DROP\n")
        let (bytes, end) = dropped.readToEnd()
        #expect(bytes.isEmpty && end == .reset, "\(end)")
        let line = try scenario.log(of: dropped)
        #expect(line.termination == "PR" && line.server == "<NOSRV>", "\(line)")
        let kept = try Client(port: scenario.port)
        try kept.send("KEEP\n")
        #expect(try kept.readLine() == "s1")
        kept.close()
        #expect(backend.snapshot.accepted == 1)
    }
}
