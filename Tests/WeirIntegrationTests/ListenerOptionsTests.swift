import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

private let ssTool = ["/usr/bin/ss", "/bin/ss", "/usr/sbin/ss"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// `ss -H ARGS` lines for sockets whose local port is `port`.
private func ssLines(_ arguments: [String], port: UInt16) throws -> [String] {
    let run = try runTool(try #require(ssTool), ["-H"] + arguments + ["( sport = :\(port) )"])
    return run.stdout.split(separator: "\n").map(String.init)
}

/// A TCP connection to 127.0.0.1 or ::1 that was refused (false) or accepted (true).
private func connects(host: String, port: UInt16) -> Bool {
    guard let client = try? Client(port: port, host: host) else { return false }
    client.close()
    return true
}

/// The socket options of `bind` lines, seen from outside: the kernel's
/// view of the listening sockets (`ss`), and what clients meet.
@Suite("bind socket options", .serialized, .enabled(if: ssTool != nil))
struct ListenerOptionsTests {
    @Test("backlog (bind, then frontend), mss, interface lo: the kernel's listening sockets carry them")
    func socketOptions() throws {
        let server = try Backend(.nameThenHold("s1"))
        let s = try Scenario(config: tcpConfig(backend: "    server s1 \(server.address)", frontend: """
                backlog 44
                bind 127.0.0.1:0 backlog 33 mss 1000 tfo
                bind 127.0.0.1:0 interface lo
            """), backends: [server])
        defer { s.close() }
        let first = try s.weir.port(of: "fe", index: 1)
        let second = try s.weir.port(of: "fe", index: 2)
        // Send-Q of a listening socket is its backlog.
        let listening = try ssLines(["-ltn"], port: s.port)
        #expect(listening.first?.split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).first == "44",
                "the frontend's backlog applies to binds without their own: \(listening)")
        let withBacklog = try ssLines(["-ltn"], port: first)
        #expect(withBacklog.first?.split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).first == "33",
                "\(withBacklog)")
        let onLo = try ssLines(["-ltn"], port: second)
        #expect(onLo.first?.contains("127.0.0.1%lo:\(second)") == true, "\(onLo)")
        #expect(onLo.first?.split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).first == "44", "\(onLo)")
        // The MSS the accepted connection advertises stays under the one set.
        let client = try Client(port: first)
        defer { client.close() }
        #expect(try client.readLine() == "s1")
        let info = try ssLines(["-tni", "state", "established"], port: first).joined(separator: " ")
        let advmss = info.range(of: "advmss:").map { Int(info[$0.upperBound...].prefix { $0.isNumber }) ?? 0 }
        #expect(advmss.map { $0 > 0 && $0 <= 1000 } == true, "\(info)")
    }

    @Test("bind maxconn 1: a second connection waits in the accept queue until the first closes")
    func listenerMaxconn() throws {
        let server = try Backend(.nameThenHold("s1"))
        let s = try Scenario(config: tcpConfig(backend: "    server s1 \(server.address)", frontend: """
                bind 127.0.0.1:0 maxconn 1
            """), backends: [server])
        defer { s.close() }
        let limited = try s.weir.port(of: "fe", index: 1)
        let first = try Client(port: limited)
        #expect(try first.readLine() == "s1")
        let second = try Client(port: limited)
        defer { second.close() }
        #expect(second.receivesNothing(within: 0.5), "the listener is full")
        // The frontend's other bind has no limit of its own.
        let other = try Client(port: s.port)
        defer { other.close() }
        #expect(try other.readLine() == "s1")
        first.close()
        #expect(try second.readLine() == "s1")
    }

    @Test("defer-accept: a connection that sends nothing is not accepted yet; its first bytes get it accepted")
    func deferAccept() throws {
        let server = try Backend(.nameThenHold("s1"))
        let s = try Scenario(config: tcpConfig(backend: "    server s1 \(server.address)", frontend: """
                bind 127.0.0.1:0 defer-accept
            """), backends: [server])
        defer { s.close() }
        let deferred = try s.weir.port(of: "fe", index: 1)
        let client = try Client(port: deferred)
        defer { client.close() }
        #expect(client.receivesNothing(within: 0.5))
        #expect(server.waitFor(timeout: 0.2) { $0.accepted > 0 } == false, "weir did not connect to the server")
        try client.send("x")
        #expect(try client.readLine() == "s1")
    }

    @Test("v6only on [::]: IPv4 clients are refused; v4v6 takes them")
    func v6only() throws {
        let server = try Backend(.nameThenHold("s1"))
        let s = try Scenario(config: tcpConfig(backend: "    server s1 \(server.address)", frontend: """
                bind [::]:0 v6only
                bind [::]:0 v4v6
            """), backends: [server])
        defer { s.close() }
        let only6 = try s.weir.port(of: "fe", index: 1)
        let both = try s.weir.port(of: "fe", index: 2)
        #expect(connects(host: "::1", port: only6))
        #expect(!connects(host: "127.0.0.1", port: only6))
        #expect(connects(host: "127.0.0.1", port: both))
    }

    @Test("an interface that does not exist stops the start with an error naming the address and the reason")
    func unknownInterface() throws {
        let file = try TempFile(tcpConfig(backend: "    server s1 127.0.0.1:9", frontend: """
                bind 127.0.0.1:0 interface nosuchif0
            """))
        defer { file.remove() }
        let run = try WeirProcess.run(["-d", "-f", file.path], timeout: 30)
        #expect(run.status != 0)
        #expect(run.stderr.contains("cannot bind 127.0.0.1:0: cannot apply its bind options: "), "\(run.stderr)")
    }
}
