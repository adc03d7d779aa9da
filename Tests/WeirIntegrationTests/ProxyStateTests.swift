import Foundation
import Testing

/// `disabled`, `enabled` and `id N` on proxies.
@Suite("disabled proxies and proxy ids", .serialized)
struct ProxyStateTests {
    /// `disabled` in defaults stops every proxy that does not say `enabled`.
    @Test("a disabled frontend does not listen, a disabled backend answers 503, and ids reach the statistics")
    func disabledAndIDs() throws {
        let app = try HTTPBackend(name: "app")
        let unused = try Sock.refusedPort()
        let s = try HTTPScenario(config: rulesConfig(frontend: """
                enabled
                id 10
                use_backend off if { path_beg /off }
                default_backend app
            """, sections: """
            frontend stopped
                bind 127.0.0.1:\(unused)
                default_backend app
            backend app
                enabled
                server app \(app.address)
            backend off
                server app \(app.address)
            listen stats
                enabled
                id 3
                bind 127.0.0.1:0
                stats uri /stats
            """, defaults: "    disabled"), backends: [app])
        defer { s.close() }
        #expect(Sock.isRefused(port: unused), "the disabled frontend must not listen")
        #expect(!s.weir.stderr.text.contains("Proxy stopped listening"), "\(s.weir.stderr.text)")

        let c = try s.connect()
        defer { c.close() }
        try c.request("GET", "/")
        #expect(try c.readResponse().status == 200)
        let off = try s.connect()
        defer { off.close() }
        try off.request("GET", "/off")
        #expect(try off.readResponse().status == 503)
        #expect(app.requests.map(\.target) == ["/"])

        let stats = try HTTPConnection(port: try s.weir.port(of: "stats"))
        defer { stats.close() }
        try stats.request("GET", "/stats;csv")
        let csv = try stats.readResponse().text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let header = try #require(csv.first)
        let iid = try #require(header.firstIndex(of: "iid"))
        let status = try #require(header.firstIndex(of: "status"))
        var ids: [String: String] = [:]
        var frontendStatus: [String: String] = [:]
        for row in csv.dropFirst() where row.count > iid && (row[1] == "FRONTEND" || row[1] == "BACKEND") {
            ids[String(row[0])] = String(row[iid])
            if row[1] == "FRONTEND" { frontendStatus[String(row[0])] = String(row[status]) }
        }
        #expect(frontendStatus == ["fe": "OPEN", "stopped": "STOP", "stats": "OPEN"], "\(frontendStatus)")
        // Explicit ids stay; the others take the lowest free ones in file order.
        #expect(ids == ["fe": "10", "stopped": "1", "app": "2", "off": "4", "stats": "3"], "\(ids)")
    }
}
