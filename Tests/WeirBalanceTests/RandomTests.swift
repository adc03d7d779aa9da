import Testing
import WeirBalance

@Suite("random")
struct RandomTests {
    @Test func followsWeights() {
        var b = Balancer(algorithm: .random(draws: 1), servers: makeServers([1, 2, 3, 2]), seed: 42)
        let counts = b.spread(40000)
        for (s, w) in [1, 2, 3, 2].enumerated() {
            let expected = 40000 * w / 8
            #expect(abs(counts[s] - expected) < expected / 10, "server \(s): \(counts[s]) vs \(expected)")
        }
    }

    @Test func twoDrawsAvoidTheLoadedServer() {
        func loadedShare(draws: Int) -> Int {
            var b = Balancer(algorithm: .random(draws: draws), servers: makeServers([1, 1, 1]), seed: 9)
            for _ in 0..<100 { b.connectionOpened(server: 0) }
            return b.spread(9000)[0]
        }
        let one = loadedShare(draws: 1), two = loadedShare(draws: 2), eight = loadedShare(draws: 8)
        // One draw: 1/3 of the picks; two draws: only when both hit it (1/9).
        #expect(one > 2700)
        #expect(two < 1300 && two > 700)
        #expect(eight < 30)
    }

    @Test func powerOfTwoChoicesKeepsLoadLevel() {
        func imbalance(draws: Int) -> Int {
            var b = Balancer(algorithm: .random(draws: draws), servers: makeServers(Array(repeating: 1, count: 10)),
                             seed: 3)
            for _ in 0..<5000 {
                guard let s = b.pick(hashKey: 0).server else { return .max }
                b.connectionOpened(server: s)
            }
            let conns = b.servers.map(\.activeConnections)
            return conns.max()! - conns.min()!
        }
        let one = imbalance(draws: 1), two = imbalance(draws: 2)
        #expect(two <= 4, "two draws: spread \(two)")
        #expect(one > 3 * two, "one draw \(one) vs two draws \(two)")
    }

    @Test func sameSeedSameSequenceOtherSeedOtherSequence() {
        var a = Balancer(algorithm: .random(draws: 2), servers: makeServers([1, 1, 1, 1]), seed: 5)
        var b = Balancer(algorithm: .random(draws: 2), servers: makeServers([1, 1, 1, 1]), seed: 5)
        var c = Balancer(algorithm: .random(draws: 2), servers: makeServers([1, 1, 1, 1]), seed: 6)
        let sa = a.sequence(200), sb = b.sequence(200), sc = c.sequence(200)
        #expect(sa == sb)
        #expect(sa != sc)
    }

    @Test func weightChangeAppliesAtOnce() {
        var b = Balancer(algorithm: .random(draws: 2), servers: makeServers([1, 1]), seed: 5)
        b.setWeight(0, server: 0)
        #expect(b.spread(500) == [0, 500])
        b.setWeight(9, server: 0)
        b.setWeight(1, server: 1)
        let counts = b.spread(10000, key: { _ in 0 })
        // Draws are 9:1; of two draws the second server wins unless both are
        // the first (81%), or loads tie: the first drawn wins ties.
        #expect(counts[0] > 8500)
    }

    @Test func zeroDrawsMeansOne() {
        var b = Balancer(algorithm: .random(draws: 0), servers: makeServers([1, 1]), seed: 5)
        let counts = b.spread(1000)
        #expect(counts[0] > 400 && counts[1] > 400)
    }
}
