import Testing
import WeirBalance

@Suite("static-rr")
struct StaticRoundRobinTests {
    @Test func exactSpreadForWeights() {
        var b = Balancer(algorithm: .staticRoundRobin, servers: makeServers([1, 2, 3]), seed: 1)
        #expect(b.spread(600) == [100, 200, 300])
    }

    @Test func largeWeightsWithACommonDivisorStayExactAndSmooth() {
        var b = Balancer(algorithm: .staticRoundRobin, servers: makeServers([50, 100, 150]), seed: 1)
        let seq = b.sequence(60)
        #expect([0, 1, 2].map { s in seq.filter { $0 == s }.count } == [10, 20, 30])
        #expect(longestRun(seq) <= 2)
        var rr = Balancer(algorithm: .roundRobin, servers: makeServers([1, 2, 3]), seed: 1)
        #expect(seq == rr.sequence(60), "same interleaving as roundrobin for the reduced weights")
    }

    @Test func weightsAreStaticOnlyZeroOrConfigured() {
        var b = Balancer(algorithm: .staticRoundRobin, servers: makeServers([1, 2, 3]), seed: 1)
        b.setWeight(50, server: 0)
        #expect(b.servers[0].weight == 1)
        #expect(b.spread(600) == [100, 200, 300])
        b.setWeight(0, server: 2)
        #expect(b.servers[2].weight == 0)
        #expect(b.spread(300) == [100, 200, 0])
        b.setWeight(7, server: 2)
        #expect(b.servers[2].weight == 3)
        #expect(b.spread(600) == [100, 200, 300])
    }

    @Test func downServerIsRemovedFromTheMapAndComesBack() {
        var b = Balancer(algorithm: .staticRoundRobin, servers: makeServers([1, 2, 3]), seed: 1)
        b.setUsable(false, server: 1)
        #expect(b.spread(400) == [100, 0, 300])
        b.setUsable(true, server: 1)
        #expect(b.spread(600) == [100, 200, 300])
    }

    @Test func fullServerIsSkipped() {
        var servers = makeServers([1, 1, 1])
        servers[1].maxconn = 3
        var b = Balancer(algorithm: .staticRoundRobin, servers: servers, seed: 1)
        for _ in 0..<3 { b.connectionOpened(server: 1) }
        #expect(b.spread(100) == [50, 0, 50])
    }
}
