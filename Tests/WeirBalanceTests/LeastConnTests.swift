import Testing
import WeirBalance

@Suite("leastconn")
struct LeastConnTests {
    @Test func prefersTheLeastLoaded() {
        var b = Balancer(algorithm: .leastConn, servers: makeServers([1, 1, 1]), seed: 1)
        for (s, n) in [(0, 5), (1, 2), (2, 7)] { for _ in 0..<n { b.connectionOpened(server: s) } }
        #expect(b.pick(hashKey: 0) == .server(1))
        // Long-lived connections: new ones fill the least loaded until level.
        for _ in 0..<3 {
            let s = b.pick(hashKey: 0).server ?? -1
            #expect(s == 1)
            b.connectionOpened(server: s)
        }
        #expect(b.pick(hashKey: 0) == .server(0))
    }

    @Test func loadIsRelativeToWeight() {
        var b = Balancer(algorithm: .leastConn, servers: makeServers([1, 3]), seed: 1)
        for _ in 0..<400 {
            guard let s = b.pick(hashKey: 0).server else { Issue.record("no server"); return }
            b.connectionOpened(server: s)
        }
        #expect(b.servers.map(\.activeConnections) == [100, 300])
    }

    @Test func tiesAreBrokenRoundRobin() {
        var b = Balancer(algorithm: .leastConn, servers: makeServers([1, 1, 1, 1]), seed: 1)
        // Connections close at once: every pick is a four-way tie.
        let seq = b.sequence(400)
        #expect(longestRun(seq) == 1)
        #expect(b.spread(400) == [100, 100, 100, 100])
        // Ties among a subset rotate too: server 3 is busier.
        b.connectionOpened(server: 3)
        let sub = b.sequence(300)
        #expect(!sub.contains(3))
        #expect(longestRun(sub) == 1)
        #expect([0, 1, 2].map { s in sub.filter { $0 == s }.count } == [100, 100, 100])
    }

    @Test func weightChangeAppliesAtOnce() {
        var b = Balancer(algorithm: .leastConn, servers: makeServers([1, 1]), seed: 1)
        for _ in 0..<10 { b.connectionOpened(server: 0) }
        for _ in 0..<10 { b.connectionOpened(server: 1) }
        b.setWeight(4, server: 1)
        for _ in 0..<30 {
            guard let s = b.pick(hashKey: 0).server else { Issue.record("no server"); return }
            b.connectionOpened(server: s)
        }
        // 50 connections at weights 1:4 → 10:40.
        #expect(b.servers.map(\.activeConnections) == [10, 40])
    }

    @Test func closingAConnectionMakesThatServerPreferred() {
        var b = Balancer(algorithm: .leastConn, servers: makeServers([1, 1, 1]), seed: 1)
        for s in 0..<3 { for _ in 0..<4 { b.connectionOpened(server: s) } }
        b.connectionClosed(server: 2)
        #expect(b.pick(hashKey: 0) == .server(2))
        b.connectionClosed(server: 0)
        b.connectionClosed(server: 0)
        #expect(b.pick(hashKey: 0) == .server(0))
    }
}
