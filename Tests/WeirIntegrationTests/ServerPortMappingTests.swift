import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Servers without a port (`server s1 10.0.0.1`), with a port offset
/// (`:+N`, `:-N`) or without an address (`0.0.0.0`, `*`): their traffic goes
/// to the port, or the address, the client connected to.
@Suite("server port mapping", .serialized)
struct ServerPortMappingTests {
    static func config(_ sections: String) -> String {
        """
        global
            log stdout format raw local0

        defaults
            mode tcp
            log global
            option tcplog
            timeout connect 2s
            timeout client 30s
            timeout server 30s

        \(sections)
        """
    }

    @Test("a server without a port gets the port the client connected to")
    func samePortAsTheClient() throws {
        // The backend listens on 127.0.0.2, weir on the same port of 127.0.0.1,
        // held until weir starts so that nothing else takes it.
        let pair = try Backend.onOnePort([(.name("placeholder"), "127.0.0.1"), (.name("mapped"), "127.0.0.2")])
        let backend = pair[1]
        pair[0].stop()
        let s = try Scenario(config: Self.config("""
            frontend fe
                bind 127.0.0.1:\(backend.port)
                default_backend be

            backend be
                server s1 127.0.0.2
            """), backends: [backend])
        defer { s.close() }
        #expect(s.port == backend.port)
        for _ in 0..<2 { #expect(try askName(s.port) == "mapped") }
        #expect(backend.snapshot.accepted == 2)
    }

    @Test("offsets and addressless servers follow the destination a PROXY header carries")
    func offsetsAndAddresslessServers() throws {
        let backend = try Backend(.name("mapped"), host: "127.0.0.2")
        let b = Int(backend.port)
        let s = try Scenario(config: Self.config("""
            frontend fe
                bind 127.0.0.1:0 accept-proxy
                default_backend plus

            frontend minus
                bind 127.0.0.1:0 accept-proxy
                default_backend minus

            frontend any
                bind 127.0.0.1:0 accept-proxy
                default_backend any

            backend plus
                server s1 127.0.0.2:+1

            backend minus
                server s1 127.0.0.2:-1

            backend any
                server s1 0.0.0.0
            """), backends: [backend])
        defer { s.close() }
        let cases: [(frontend: String, destination: String, port: Int)] = [
            ("fe", "127.0.0.2", b - 1), ("minus", "127.0.0.2", b + 1), ("any", "127.0.0.2", b),
        ]
        for (frontend, destination, port) in cases {
            let client = try Client(port: try s.weir.port(of: frontend))
            try client.send(proxyV1("TCP4", "192.0.2.1", destination, 5555, port))
            #expect(try client.readLine() == "mapped", "\(frontend)")
            client.close()
        }
        #expect(backend.snapshot.accepted == 3)
    }

    @Test("HTTP: a connection to a mapped port is never pooled for a client that connected elsewhere")
    func mappedConnectionsAreNotShared() throws {
        let a = try HTTPBackend(name: "a"), b = try HTTPBackend(name: "b")
        let s = try HTTPScenario(config: """
            defaults
                mode http
                timeout connect 2s
                timeout client 30s
                timeout server 30s

            frontend fe
                bind 127.0.0.1:0 accept-proxy
                default_backend be

            backend be
                http-reuse always
                server s1 127.0.0.1
            """, backends: [a, b])
        defer { s.close() }
        for (backend, name) in [(a, "a"), (b, "b"), (a, "a")] {
            let c = try s.connect()
            try c.send(proxyV1("TCP4", "192.0.2.1", "127.0.0.1", 5555, Int(backend.port)))
            for _ in 0..<2 {
                try c.request("GET", "/")
                let response = try c.readResponse()
                #expect(response.headers.value("x-served-by") == name, "\(response)")
            }
            c.close()
        }
        #expect(a.requests.count == 4 && b.requests.count == 2)
    }
}
