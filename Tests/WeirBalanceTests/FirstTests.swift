import Testing
import WeirBalance

@Suite("first")
struct FirstTests {
    @Test func fillsServersInIDOrderRespectingMaxconn() {
        var servers = makeServers([1, 1, 1])
        servers[0].id = 3; servers[1].id = 1; servers[2].id = 2
        servers[0].maxconn = 2; servers[1].maxconn = 2; servers[2].maxconn = 3
        var b = Balancer(algorithm: .first, servers: servers, seed: 1)
        var order: [Int] = []
        while case .server(let s) = b.pick(hashKey: 0) {
            order.append(s)
            b.connectionOpened(server: s)
        }
        #expect(order == [1, 1, 2, 2, 2, 0, 0])
        #expect(b.pick(hashKey: 0) == .allFull)
        b.connectionClosed(server: 2)
        #expect(b.pick(hashKey: 0) == .server(2))
        b.connectionClosed(server: 1)
        #expect(b.pick(hashKey: 0) == .server(1))
    }

    @Test func ignoresWeightsExceptZero() {
        var b = Balancer(algorithm: .first, servers: makeServers([1, 200, 50]), seed: 1)
        #expect(b.spread(100) == [100, 0, 0])
        b.setWeight(0, server: 0)
        #expect(b.spread(100) == [0, 100, 0])
    }

    @Test func withoutMaxconnEverythingGoesToTheLowestID() {
        var b = Balancer(algorithm: .first, servers: makeServers([1, 1]), seed: 1)
        for _ in 0..<50 { b.connectionOpened(server: b.pick(hashKey: 0).server ?? 1) }
        #expect(b.servers.map(\.activeConnections) == [50, 0])
    }
}
