import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `option nolinger`: weir closes its sockets with a reset instead of a FIN.
@Suite("option nolinger", .serialized)
struct NoLingerTests {
    /// Reads the accepted server-side connection until it ends: `.eof` or `.reset`.
    private func serverSideEnd(_ fd: Int32) -> Client.End {
        var byte: UInt8 = 0
        while true {
            let n = Glibc.read(fd, &byte, 1)
            if n > 0 { continue }
            if n == 0 { return .eof }
            if errno == EINTR { continue }
            return errno == ECONNRESET ? .reset : errno == EAGAIN ? .timeout : .error(errno)
        }
    }

    @Test("in a frontend: the connection a client asked to close after its response ends with a reset, not a FIN")
    func clientSide() throws {
        let app = try HTTPBackend(name: "app")
        let s = try HTTPScenario(config: rulesConfig(frontend: """
                option nolinger
                default_backend app
            """, sections: """
            frontend plain
                bind 127.0.0.1:0
                default_backend app
            backend app
                server app \(app.address)
            """), backends: [app])
        defer { s.close() }
        for (port, expected) in [(s.port, HTTPByteReader.End.reset), (try s.weir.port(of: "plain"), .eof)] {
            let c = try HTTPConnection(port: port)
            defer { c.close() }
            try c.request("GET", "/", headers: ["connection: close"])
            #expect(try c.readResponse().status == 200)
            #expect(c.readToEnd().end == expected, "port \(port)")
        }
    }

    @Test("in a backend: a client abort closes the server connection with a reset, not a FIN")
    func serverSide() throws {
        let listener = try Sock.listener(backlog: 4)
        defer { Glibc.close(listener) }
        Sock.setTimeouts(listener, seconds: 10)
        let port = Sock.localPort(listener)
        let s = try Scenario(config: tcpConfig(backend: """
                option nolinger
                server raw 127.0.0.1:\(port)
            frontend plain
                bind 127.0.0.1:0
                default_backend lingering
            backend lingering
                server raw 127.0.0.1:\(port)
            """), backends: [])
        defer { s.close() }
        for (frontendPort, expected) in [(s.port, Client.End.reset), (try s.weir.port(of: "plain"), .eof)] {
            let c = try Client(port: frontendPort)
            try c.send("hello")
            let accepted = Glibc.accept(listener, nil, nil)
            try #require(accepted >= 0, "weir did not connect to the raw server")
            defer { Glibc.close(accepted) }
            Sock.setTimeouts(accepted, seconds: 10)
            var first = [UInt8](repeating: 0, count: 5)
            #expect(Glibc.read(accepted, &first, 5) == 5)
            c.abort()
            #expect(serverSideEnd(accepted) == expected, "port \(frontendPort)")
        }
    }
}
