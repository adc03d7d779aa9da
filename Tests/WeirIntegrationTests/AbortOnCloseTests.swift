import Foundation
import Testing

/// `option abortonclose`: a client that closes while its session waits for
/// a server is dropped instead of served.
@Suite("option abortonclose", .serialized)
struct AbortOnCloseTests {
    @Test("a queued client that shuts its side is dropped at once (CQ); without the option it is still served")
    func queuedClientCloses() throws {
        let server = try Backend(.nameThenHold("s1"))
        let s = try Scenario(config: tcpConfig(backend: """
                option abortonclose
                timeout queue 10s
                server s1 \(server.address) maxconn 1
            frontend patient
                bind 127.0.0.1:0
                default_backend patient
            backend patient
                timeout queue 10s
                server s1 \(server.address) maxconn 1
            """), backends: [server])
        defer { s.close() }

        let holder = try Client(port: s.port)
        #expect(try holder.readLine() == "s1")
        let quitter = try Client(port: s.port)
        #expect(quitter.receivesNothing(within: 0.3), "queued behind the holder")
        quitter.shutdownWrite()
        let end = quitter.readToEnd()
        #expect(end.bytes.isEmpty && end.end.isClosed, "\(end)")
        let line = try s.log(of: quitter)
        #expect(line.termination == "CQ" && line.server == "<NOSRV>", "\(line)")
        holder.close()

        let patientPort = try s.weir.port(of: "patient")
        let holder2 = try Client(port: patientPort)
        #expect(try holder2.readLine() == "s1")
        let waiter = try Client(port: patientPort)
        defer { waiter.close() }
        #expect(waiter.receivesNothing(within: 0.3))
        waiter.shutdownWrite()
        #expect(waiter.receivesNothing(within: 0.3), "still queued after its half-close")
        holder2.close()
        #expect(try waiter.readLine() == "s1")
    }
}

/// The same in mode http, where the request waits in the queue behind one
/// that the server never answers.
@Suite("option abortonclose in mode http", .serialized)
struct HTTPAbortOnCloseTests {
    @Test("a queued request whose client shuts its side is dropped, logged CQ, and never reaches the server")
    func queuedRequest() throws {
        let app = try HTTPBackend(name: "app") { request in
            request.target == "/hold" ? .neverAnswer : .text(200, "ok\n")
        }
        let s = try HTTPScenario(config: httpConfig(backend: """
                option abortonclose
                timeout queue 10s
                server app \(app.address) maxconn 1
            """), backends: [app])
        defer { s.close() }
        let holder = try s.connect()
        defer { holder.close() }
        try holder.request("GET", "/hold")
        #expect(app.waitForRequests { $0.count == 1 })
        let quitter = try s.connect()
        try quitter.request("GET", "/quit")
        quitter.shutdownWrite()
        let end = quitter.readToEnd()
        #expect(end.bytes.isEmpty && (end.end == .eof || end.end == .reset), "\(end)")
        let line = try s.log(of: quitter)
        #expect(line.termination.hasPrefix("CQ"), "\(line)")
        #expect(app.requests.map(\.target) == ["/hold"])
    }
}
