import Foundation
import Testing

/// Load balancing seen from outside: real backends that answer their name,
/// sequential or long-lived clients, and which server each one reached.
@Suite("Balancing")
struct BalanceScenarioTests {
    @Test("roundrobin spreads sequential connections evenly over 3 servers")
    func roundRobinSpread() throws {
        let backends = try (1...3).map { try Backend(.name("s\($0)")) }
        let scenario = try Scenario(config: tcpConfig(backend: "    balance roundrobin\n" + serverLines(backends)),
                                    backends: backends)
        defer { scenario.close() }
        var answers: [String] = []
        for _ in 0..<30 { answers.append(try askName(scenario.port)) }
        let counts = Dictionary(answers.map { ($0, 1) }, uniquingKeysWith: +)
        #expect(counts == ["s1": 10, "s2": 10, "s3": 10], "answers: \(answers)")
        // Every window of three consecutive connections visits each server once.
        for start in stride(from: 0, to: answers.count, by: 3) {
            #expect(Set(answers[start..<start + 3]) == ["s1", "s2", "s3"], "answers: \(answers)")
        }
        #expect(backends.map(\.snapshot.accepted) == [10, 10, 10])
    }

    @Test("weights 1/2/3 give exact proportions", arguments: ["roundrobin", "static-rr"])
    func weights(algorithm: String) throws {
        let backends = try (1...3).map { try Backend(.name("s\($0)")) }
        let config = tcpConfig(backend: "    balance \(algorithm)\n"
            + serverLines(backends, extras: ["weight 1", "weight 2", "weight 3"]))
        let scenario = try Scenario(config: config, backends: backends)
        defer { scenario.close() }
        var answers: [String] = []
        for _ in 0..<60 { answers.append(try askName(scenario.port)) }
        let counts = Dictionary(answers.map { ($0, 1) }, uniquingKeysWith: +)
        #expect(counts == ["s1": 10, "s2": 20, "s3": 30], "answers: \(answers)")
        // The proportion holds in every cycle of 6, not only over the whole run.
        for start in stride(from: 0, to: 60, by: 6) {
            let cycle = Dictionary(answers[start..<start + 6].map { ($0, 1) }, uniquingKeysWith: +)
            #expect(cycle == ["s1": 1, "s2": 2, "s3": 3], "cycle at \(start): \(answers[start..<start + 6])")
        }
    }

    @Test("leastconn sends new connections to the server with the fewest long-lived ones")
    func leastConnPreference() throws {
        let backends = try (1...3).map { try Backend(.nameThenHold("s\($0)")) }
        let scenario = try Scenario(config: tcpConfig(backend: "    balance leastconn\n" + serverLines(backends)),
                                    backends: backends)
        defer { scenario.close() }
        var held: [(client: Client, server: String)] = []
        defer { for h in held { h.client.close() } }
        for _ in 0..<6 {
            let client = try Client(port: scenario.port)
            held.append((client, try client.readLine()))
        }
        let counts = Dictionary(held.map { ($0.server, 1) }, uniquingKeysWith: +)
        #expect(counts == ["s1": 2, "s2": 2, "s3": 2], "servers: \(held.map(\.server))")

        // Free one connection of each server in turn: the next one goes there.
        for name in ["s2", "s3", "s1"] {
            let index = try #require(held.firstIndex { $0.server == name })
            let freed = held.remove(at: index).client
            let port = freed.localPort
            freed.close()
            _ = try scenario.log(clientPort: port) // the proxy has seen it end
            let client = try Client(port: scenario.port)
            let server = try client.readLine()
            held.append((client, server))
            #expect(server == name, "after freeing a connection on \(name), the next one went to \(server)")
        }
        // Three more with everything tied at 2: one on each server.
        for _ in 0..<3 {
            let client = try Client(port: scenario.port)
            held.append((client, try client.readLine()))
        }
        let final = Dictionary(held.map { ($0.server, 1) }, uniquingKeysWith: +)
        #expect(final == ["s1": 3, "s2": 3, "s3": 3], "servers: \(held.map(\.server))")
    }

    @Test("source: the same client address always reaches the same server")
    func sourceStickiness() throws {
        let backends = try (1...3).map { try Backend(.name("s\($0)")) }
        let scenario = try Scenario(config: tcpConfig(backend: "    balance source\n" + serverLines(backends)),
                                    backends: backends)
        defer { scenario.close() }
        var chosen: [String: String] = [:]
        for source in (1...8).map({ "127.0.0.\($0)" }) {
            var answers: [String] = []
            for _ in 0..<8 { answers.append(try askName(scenario.port, source: source)) }
            #expect(Set(answers).count == 1, "from \(source): \(answers)")
            chosen[source] = answers.first
        }
        // Hashing spreads different addresses (8 addresses all on one server would be a broken hash).
        #expect(Set(chosen.values).count >= 2, "servers by source: \(chosen)")
        // The log shows the real source address of each connection.
        let client = try Client(port: scenario.port, source: "127.0.0.3")
        _ = try client.readLine()
        client.close()
        let line = try scenario.log(clientPort: client.localPort, clientAddress: "127.0.0.3")
        #expect(line.server == chosen["127.0.0.3"])
    }

    @Test("first fills the first server up to its maxconn before using the next")
    func firstAlgorithm() throws {
        let backends = try (1...3).map { try Backend(.nameThenHold("s\($0)")) }
        let config = tcpConfig(backend: "    balance first\n"
            + serverLines(backends, extras: ["maxconn 2", "maxconn 2", "maxconn 2"]))
        let scenario = try Scenario(config: config, backends: backends)
        defer { scenario.close() }
        var held: [(client: Client, server: String)] = []
        defer { for h in held { h.client.close() } }
        for _ in 0..<5 {
            let client = try Client(port: scenario.port)
            held.append((client, try client.readLine()))
        }
        #expect(held.map(\.server) == ["s1", "s1", "s2", "s2", "s3"])
        // A slot frees on s1: the next connection goes back to s1, not s3.
        let freed = held.remove(at: 0).client
        freed.close()
        _ = try scenario.log(clientPort: freed.localPort)
        let client = try Client(port: scenario.port)
        let server = try client.readLine()
        held.append((client, server))
        #expect(server == "s1")
    }

    @Test("disabled and backup servers are skipped while an active server exists")
    func disabledAndBackupSkipped() throws {
        let backends = try (1...3).map { try Backend(.name("s\($0)")) }
        let config = tcpConfig(backend: "    balance roundrobin\n"
            + serverLines(backends, extras: ["disabled", "backup", ""]))
        let scenario = try Scenario(config: config, backends: backends)
        defer { scenario.close() }
        for _ in 0..<6 { #expect(try askName(scenario.port) == "s3") }
        #expect(backends[0].snapshot.accepted == 0)
        #expect(backends[1].snapshot.accepted == 0)
    }

    @Test("a backup server serves when every active server is disabled")
    func backupServes() throws {
        let backends = try (1...2).map { try Backend(.name("s\($0)")) }
        let config = tcpConfig(backend: "    balance roundrobin\n"
            + serverLines(backends, extras: ["disabled", "backup"]))
        let scenario = try Scenario(config: config, backends: backends)
        defer { scenario.close() }
        for _ in 0..<4 { #expect(try askName(scenario.port) == "s2") }
    }

    @Test("random(2) serves every connection from a configured server")
    func randomDraws() throws {
        let backends = try (1...3).map { try Backend(.name("s\($0)")) }
        let scenario = try Scenario(config: tcpConfig(backend: "    balance random(2)\n" + serverLines(backends)),
                                    backends: backends)
        defer { scenario.close() }
        var answers: [String] = []
        for _ in 0..<30 { answers.append(try askName(scenario.port)) }
        #expect(Set(answers).isSubset(of: ["s1", "s2", "s3"]))
        #expect(backends.map(\.snapshot.accepted).reduce(0, +) == 30)
    }

    @Test("a listen section over IPv6 loopback proxies to an IPv6 server")
    func listenOverIPv6() throws {
        let backend = try Backend(.name("v6"), host: "::1")
        let config = """
            global
                log stdout format raw local0
            listen fe
                mode tcp
                log global
                option tcplog
                timeout connect 2s
                timeout client 10s
                timeout server 10s
                bind [::1]:0
                server v6 \(backend.address)
            """
        let weir = try WeirProcess.start(config: config)
        defer { weir.stop(); backend.stop() }
        let announced = try #require(weir.stderr.lines.first { $0.contains("Proxy fe listening on") })
        #expect(announced.contains("[::1]:"))
        let client = try Client(port: try weir.port(of: "fe"), host: "::1")
        #expect(try client.readLine() == "v6")
        client.close()
        let line = try #require(weir.logLine(clientPort: client.localPort))
        #expect(line.backend == "fe" && line.server == "v6")
        #expect(line.termination == "--")
    }
}
