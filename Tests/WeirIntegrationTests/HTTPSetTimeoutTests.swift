import Foundation
import Testing

/// `http-request set-timeout server|tunnel`: a timeout for one request,
/// which wins over the section's (30 s for the server, 1 h for tunnels here,
/// past the client's 10 s read limit: only the rule's can end these tests).
@Suite("HTTP rules: set-timeout", .serialized)
struct HTTPSetTimeoutTests {
    private func scenario(_ backend: HTTPBackend, frontend: String) throws -> HTTPScenario {
        try HTTPScenario(backends: [backend], backend: "    timeout tunnel 1h", frontend: frontend)
    }

    @Test("set-timeout server, fixed or from a sample: the silent server gets a 504, sH--; other requests keep 30 s")
    func serverTimeout() throws {
        let backend = try HTTPBackend { request in
            request.target == "/fast" ? .text(200, "fast\n") : .neverAnswer
        }
        let s = try scenario(backend, frontend: """
            http-request set-timeout server 300ms if { path_beg /fixed }
            http-request set-timeout server req.hdr(x-timeout) if { req.hdr(x-timeout) -m found }
        """)
        defer { s.close() }
        for (path, headers) in [("/fixed", [String]()), ("/sample", ["X-Timeout: 250"])] {
            let c = try s.connect()
            try c.request("GET", path, headers: headers)
            let r = try c.readResponse()
            #expect(r.status == 504, "\(path): \(r)")
            let line = try s.log(of: c)
            #expect(line.termination == "sH--", "\(line)")
        }
        let c = try s.connect()
        try c.request("GET", "/fast")
        #expect(try c.readResponse().text == "fast\n")
    }

    @Test("set-timeout tunnel: an idle upgraded connection closes after the rule's timeout")
    func tunnelTimeout() throws {
        let backend = try HTTPBackend { _ in
            .switchAndEcho(headers: [HTTPHeaderField(name: "Connection", value: "Upgrade"),
                                     HTTPHeaderField(name: "Upgrade", value: "websocket")])
        }
        let s = try scenario(backend, frontend: "    http-request set-timeout tunnel 300ms")
        defer { s.close() }
        let c = try s.connect()
        try c.send("GET /ws HTTP/1.1\r\nHost: weir.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.status == 101, "\(r)")
        guard r.status == 101 else { return }
        try c.send("ping")
        #expect(String(decoding: try c.readRaw(4), as: UTF8.self) == "ping")
        #expect(c.isClosedByPeer(within: 8), "the tunnel outlived its 300 ms timeout")
    }
}
