import Foundation
import Testing

/// `capture cookie NAME len N`: the `%CC %CS` fields of httplog.
@Suite("HTTP logs: capture cookie", .serialized)
struct HTTPCookieCaptureTests {
    @Test("the first request cookie and response Set-Cookie starting with the name are logged, truncated; else '-'")
    func capturedCookies() throws {
        let server = try HTTPBackend(name: "app") { request in
            let sets = request.target.hasPrefix("/login")
            return .text(200, "ok\n", headers: sets ? [HTTPHeaderField(name: "Set-Cookie", value: "theme=dark; path=/"),
                                                       HTTPHeaderField(name: "Set-Cookie", value: "SID=abc123; path=/; HttpOnly")] : [])
        }
        let s = try HTTPScenario(config: rulesConfig(frontend: "    capture cookie SID len 12\n    default_backend app",
                                                     sections: "backend app\n    server app \(server.address)\n"),
                                 backends: [server])
        defer { s.close() }
        let c = try s.connect()
        try c.request("GET", "/login", headers: ["Cookie: x=1; SIDE=long-value-xyz; SID=zz"])
        #expect(try c.readResponse().status == 200)
        try c.request("GET", "/page", headers: ["Cookie: other=1", "Cookie: SID=zz"])
        #expect(try c.readResponse().status == 200)
        try c.request("GET", "/none")
        #expect(try c.readResponse().status == 200)
        let logs = try s.logs(clientPort: c.localPort, count: 3)
        #expect(logs[0].cookies == "SIDE=long-va SID=abc123", "the name is a prefix; len cuts: \(logs[0])")
        #expect(logs[1].cookies == "SID=zz -", "any Cookie field; no Set-Cookie: \(logs[1])")
        #expect(logs[2].cookies == "- -", "\(logs[2])")
    }
}
