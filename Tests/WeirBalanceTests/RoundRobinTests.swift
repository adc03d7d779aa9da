import Testing
import WeirBalance

@Suite("roundrobin")
struct RoundRobinTests {
    @Test func exactSpreadForWeights() {
        var b = Balancer(algorithm: .roundRobin, servers: makeServers([1, 2, 3]), seed: 1)
        #expect(b.spread(600) == [100, 200, 300])
    }

    @Test func everyCycleIsExact() {
        var b = Balancer(algorithm: .roundRobin, servers: makeServers([3, 1, 4, 2]), seed: 1)
        let seq = b.sequence(100)
        for cycle in 0..<10 {
            let window = seq[(cycle * 10)..<(cycle * 10 + 10)]
            #expect([0, 1, 2, 3].map { s in window.filter { $0 == s }.count } == [3, 1, 4, 2])
        }
    }

    @Test func equalWeightsRotateWithoutRepeats() {
        var b = Balancer(algorithm: .roundRobin, servers: makeServers([5, 5, 5, 5]), seed: 1)
        let seq = b.sequence(400)
        #expect(longestRun(seq) == 1)
        #expect(Array(seq.prefix(8)) == [0, 1, 2, 3, 0, 1, 2, 3])
    }

    @Test func heavierServersAreInterleavedNotBursted() {
        // Weights 1,2,3: within a cycle no server comes twice in a row; smooth
        // weighted round robin can repeat the heaviest once across the cycle
        // boundary, so runs stay at most 2 (plain weighted round robin: 3).
        var b = Balancer(algorithm: .roundRobin, servers: makeServers([1, 2, 3]), seed: 1)
        let seq = b.sequence(600)
        for cycle in 0..<100 {
            #expect(longestRun(Array(seq[(cycle * 6)..<(cycle * 6 + 6)])) == 1)
        }
        #expect(longestRun(seq) <= 2)
        // Weights 5,1,1: the heavy server is split by the light ones.
        var c = Balancer(algorithm: .roundRobin, servers: makeServers([5, 1, 1]), seed: 1)
        let first = c.sequence(7)
        #expect(longestRun(first) <= 2)
    }

    @Test func weightChangeAppliesAtOnce() {
        var b = Balancer(algorithm: .roundRobin, servers: makeServers([1, 1, 1]), seed: 1)
        _ = b.sequence(7) // somewhere mid-cycle
        b.setWeight(4, server: 2)
        #expect(b.servers[2].weight == 4)
        #expect(b.spread(600) == [100, 100, 400])
        b.setWeight(0, server: 0)
        #expect(b.spread(500) == [0, 100, 400])
        b.setWeight(1, server: 0)
        #expect(b.spread(600) == [100, 100, 400])
    }

    @Test func fullServerIsSkippedOthersKeepTheirRatio() {
        var servers = makeServers([1, 1, 2])
        servers[0].maxconn = 1
        var b = Balancer(algorithm: .roundRobin, servers: servers, seed: 1)
        b.connectionOpened(server: 0)
        #expect(b.spread(300) == [0, 100, 200])
    }

    @Test func serverComingBackRejoinsTheRotation() {
        var b = Balancer(algorithm: .roundRobin, servers: makeServers([1, 1, 1]), seed: 1)
        b.setUsable(false, server: 1)
        #expect(b.spread(100) == [50, 0, 50])
        b.setUsable(true, server: 1)
        #expect(b.spread(300) == [100, 100, 100])
    }

    @Test func loneServerTakesEveryPickUnlessFullOrExcluded() {
        var servers = makeServers([3])
        servers[0].maxconn = 1
        var b = Balancer(algorithm: .roundRobin, servers: servers, seed: 1)
        #expect(b.sequence(5) == [0, 0, 0, 0, 0])
        // Excluded but the only one with a free slot: still picked.
        #expect(b.pick(hashKey: nil, excluding: 0) == .server(0))
        b.connectionOpened(server: 0)
        #expect(b.pick(hashKey: nil) == .allFull)
        b.setUsable(false, server: 0)
        #expect(b.pick(hashKey: nil) == .noServer)
    }
}
