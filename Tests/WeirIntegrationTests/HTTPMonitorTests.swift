import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `monitor-uri` and `monitor fail`: the proxy answers the monitor URI
/// itself, before its http-request rules, and does not log it.
@Suite("HTTP monitor-uri", .serialized)
struct HTTPMonitorTests {
    static let ready = "<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n"

    @Test("200 with HAProxy's page, before http-request rules, kept alive and not logged; 503 when monitor fail holds")
    func monitorURI() throws {
        let app = try HTTPBackend(name: "app")
        let s = try HTTPScenario(config: rulesConfig(frontend: """
                monitor-uri /alive
                acl site_dead nbsrv(spare) lt 1
                monitor fail if { req.hdr(x-fail) -m found }
                monitor fail unless { nbsrv(app) ge 1 }
                http-request deny if { path_beg /alive }
                default_backend app
            """, sections: """
            backend app
                server app \(app.address)
            backend spare
                server spare 127.0.0.1:9 disabled
            """), backends: [app])
        defer { s.close() }

        let c = try s.connect()
        try c.request("GET", "/alive")
        let first = try c.readResponse()
        #expect(first.status == 200 && first.text == Self.ready, "\(first)")
        #expect(first.headers.value("content-type") == "text/html" && first.headers.value("cache-control") == "no-cache")
        // An absolute-form target matches on its path; HEAD gets no body.
        try c.request("GET", "http://weir.test/alive")
        #expect(try c.readResponse().status == 200)
        try c.request("HEAD", "/alive")
        let head = try c.readResponse(method: "HEAD")
        #expect(head.status == 200 && head.text.isEmpty && head.headers.value("content-length") == "58", "\(head)")
        try c.request("GET", "/alive", headers: ["x-fail: 1"])
        let failed = try c.readResponse()
        #expect(failed.status == 503 && failed.text.contains("No server is available"), "\(failed)")
        // The target must be the URI exactly: this one meets the deny rule.
        try c.request("GET", "/alive?verbose")
        #expect(try c.readResponse().status == 403)
        // The denial is the connection's only log line: the monitor requests before it are not logged.
        let lines = try s.logs(clientPort: c.localPort, count: 1)
        #expect(lines.map(\.status) == [403], "\(lines)")
        #expect(app.requests.isEmpty)
    }

    @Test("the frontend's errorfile 503 answers a failing monitor; nbsrv of a backend without usable server fails it")
    func monitorFailWithErrorFile() throws {
        let page = try rulesFile("HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n"
                                 + "connection: close\r\n\r\ndown\n", name: "503.http")
        defer { page.remove() }
        let app = try HTTPBackend(name: "app")
        let s = try HTTPScenario(config: rulesConfig(frontend: """
                monitor-uri /alive
                acl site_dead nbsrv(spare) lt 1
                monitor fail if site_dead
                errorfile 503 \(page.path)
                default_backend app
            """, sections: """
            backend app
                server app \(app.address)
            backend spare
                server spare 127.0.0.1:9 disabled
            """), backends: [app])
        defer { s.close() }
        let c = try s.connect()
        try c.request("GET", "/alive")
        let r = try c.readResponse()
        #expect(r.status == 503 && r.text == "down\n", "\(r)")
        #expect(c.isClosedByPeer(within: 5), "a custom page closes the connection")
        #expect(app.requests.isEmpty)
    }
}
