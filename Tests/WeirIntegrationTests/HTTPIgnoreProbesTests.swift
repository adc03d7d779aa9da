import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `option http-ignore-probes`: browsers' pre-connects that never send a
/// request are closed without a 408, a log line or an error count.
@Suite("option http-ignore-probes", .serialized)
struct HTTPIgnoreProbesTests {
    @Test("an empty connection that times out closes silently and unlogged; without the option it gets a logged 408")
    func probes() throws {
        let app = try HTTPBackend(name: "app")
        let s = try HTTPScenario(config: rulesConfig(frontend: """
                option http-ignore-probes
                timeout http-request 200ms
                default_backend app
            """, sections: """
            frontend plain
                bind 127.0.0.1:0
                timeout http-request 200ms
                default_backend app
            backend app
                server app \(app.address)
            """), backends: [app])
        defer { s.close() }

        let probe = try s.connect()
        defer { probe.close() }
        let silent = probe.readToEnd()
        #expect(silent.bytes.isEmpty && silent.end == .eof, "\(silent)")
        // A real request on the same frontend is logged; the probe before it is not.
        let real = try s.connect()
        defer { real.close() }
        try real.request("GET", "/")
        #expect(try real.readResponse().status == 200)
        _ = try s.log(of: real)
        #expect(s.logLines.filter { $0.clientPort == probe.localPort }.isEmpty, "\(s.weir.stdout.text)")

        let plain = try HTTPConnection(port: try s.weir.port(of: "plain"))
        defer { plain.close() }
        let timedOut = try plain.readResponse()
        #expect(timedOut.status == 408, "\(timedOut)")
        #expect(try s.log(of: plain).termination.hasPrefix("cR"))
    }
}
