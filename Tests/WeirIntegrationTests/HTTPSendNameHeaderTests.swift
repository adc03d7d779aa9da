import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `http-send-name-header NAME`: the server a request goes to is named in it.
@Suite("http-send-name-header", .serialized)
struct HTTPSendNameHeaderTests {
    @Test("each request names its server, the client's copies are dropped, and a redispatch renames it")
    func serverName() throws {
        let alpha = try HTTPBackend(name: "alpha"), b = try HTTPBackend(name: "b")
        // A port nothing listens on: its connect is refused, and the retry goes elsewhere.
        let refused = try Sock.listener(backlog: 1)
        let refusedPort = Sock.localPort(refused)
        Glibc.close(refused)
        let s = try HTTPScenario(config: httpConfig(backend: """
                http-send-name-header X-Server
                retries 1
                option redispatch
                server alpha \(alpha.address)
                server b \(b.address)
                server gone-away-server 127.0.0.1:\(refusedPort)
            """), backends: [alpha, b])
        defer { s.close() }
        let c = try s.connect()
        for _ in 0..<3 {
            try c.request("GET", "/", headers: ["x-server: forged", "X-SERVER: forged-too", "x-other: kept"])
            #expect(try c.readResponse().status == 200)
        }
        let requests = alpha.requests + b.requests
        #expect(requests.count == 3, "\(requests)")
        for (name, backend) in [("alpha", alpha), ("b", b)] {
            for request in backend.requests {
                #expect(request.headers.values("x-server") == [name], "\(request)")
                #expect(request.headers.value("x-other") == "kept")
            }
        }
        // The refused server's request was sent again to another, under that one's name.
        let lines = try s.logs(clientPort: c.localPort, count: 3)
        #expect(lines.contains { $0.retries == "+1" }, "\(lines)")
        #expect(alpha.requests.count >= 1 && b.requests.count >= 1)
    }
}
