import Testing
@testable import WeirBalance

@Suite("Rules shared by every algorithm")
struct SharedRulesTests {
    @Test(arguments: allAlgorithms)
    func disabledServerReceivesNothing(_ algorithm: Balancer.Algorithm) {
        var b = Balancer(algorithm: algorithm, servers: makeServers([1, 1, 1]), seed: 7)
        b.setUsable(false, server: 0)
        let counts = b.spread(300)
        #expect(counts[0] == 0)
        #expect(counts[1] + counts[2] == 300)
    }

    @Test(arguments: allAlgorithms)
    func weightZeroReceivesNothing(_ algorithm: Balancer.Algorithm) {
        var b = Balancer(algorithm: algorithm, servers: makeServers([0, 1, 1]), seed: 7)
        #expect(b.spread(300)[0] == 0)
    }

    @Test(arguments: allAlgorithms)
    func backupsIdleWhileAnActiveServerIsUsable(_ algorithm: Balancer.Algorithm) {
        var b = Balancer(algorithm: algorithm, servers: makeServers([1, 1, 1], backups: [0, 2]), seed: 7)
        #expect(b.spread(200) == [0, 200, 0])
    }

    @Test(arguments: allAlgorithms)
    func firstBackupByLowestIDTakesOver(_ algorithm: Balancer.Algorithm) {
        var servers = makeServers([1, 1, 1, 1], backups: [1, 2, 3])
        // Declaration order is not id order: server 3 has the lowest backup id.
        servers[1].id = 30; servers[2].id = 20; servers[3].id = 10
        var b = Balancer(algorithm: algorithm, servers: servers, seed: 7)
        #expect(b.spread(50)[0] == 50)
        b.setUsable(false, server: 0)
        #expect(b.spread(200) == [0, 0, 0, 200])
        b.setUsable(false, server: 3)
        #expect(b.spread(200) == [0, 0, 200, 0])
        b.setUsable(true, server: 0)
        #expect(b.spread(200) == [200, 0, 0, 0])
    }

    @Test(arguments: allAlgorithms)
    func activeServersWithWeightZeroCountAsAbsent(_ algorithm: Balancer.Algorithm) {
        var b = Balancer(algorithm: algorithm, servers: makeServers([1, 1], backups: [1]), seed: 7)
        b.setWeight(0, server: 0)
        #expect(b.spread(100) == [0, 100])
    }

    @Test(arguments: spreadingAlgorithms)
    func allBackupsSpreadsOverEveryBackup(_ algorithm: Balancer.Algorithm) {
        var b = Balancer(algorithm: algorithm, servers: makeServers([1, 1, 1, 1], backups: [1, 2, 3]),
                         allBackups: true, seed: 7)
        b.setUsable(false, server: 0)
        let counts = b.spread(3000, key: contentKey)
        #expect(counts[0] == 0)
        for s in 1...3 { #expect(counts[s] > 600, "backup \(s) got \(counts[s]) of 3000") }
    }

    @Test(arguments: allAlgorithms)
    func fullServerIsSkippedAndAllFullQueues(_ algorithm: Balancer.Algorithm) {
        var b = Balancer(algorithm: algorithm, servers: makeServers([1, 1, 1], maxconn: 2), seed: 7)
        var held = [0, 0, 0]
        for n in 0..<6 {
            guard let s = b.pick(hashKey: UInt64(n) &* 7919).server else {
                Issue.record("no server with free slots left at pick \(n)")
                return
            }
            b.connectionOpened(server: s)
            held[s] += 1
        }
        #expect(held == [2, 2, 2])
        #expect(b.pick(hashKey: 1) == .allFull)
        b.connectionClosed(server: 1)
        #expect(b.pick(hashKey: 1) == .server(1))
    }

    @Test(arguments: allAlgorithms)
    func noUsableServerIsNoServer(_ algorithm: Balancer.Algorithm) {
        var b = Balancer(algorithm: algorithm, servers: makeServers([1, 1], backups: [1]), seed: 7)
        b.setUsable(false, server: 0)
        b.setUsable(false, server: 1)
        #expect(b.pick(hashKey: 3) == .noServer)
        var empty = Balancer(algorithm: algorithm, servers: [], seed: 7)
        #expect(empty.pick(hashKey: 3) == .noServer)
        b.setUsable(true, server: 1)
        #expect(b.pick(hashKey: 3) == .server(1))
    }

    @Test(arguments: allAlgorithms)
    func excludedServerIsAvoidedWhenAnotherIsEligible(_ algorithm: Balancer.Algorithm) {
        var b = Balancer(algorithm: algorithm, servers: makeServers([1, 1, 1]), seed: 7)
        for n in 0..<300 {
            let first = b.pick(hashKey: UInt64(n)).server ?? -1
            let retry = b.pick(hashKey: UInt64(n), excluding: first)
            #expect(retry.server != nil && retry != .server(first))
        }
    }

    @Test(arguments: allAlgorithms)
    func excludedServerIsReturnedWhenItIsTheOnlyOneWithAFreeSlot(_ algorithm: Balancer.Algorithm) {
        var b = Balancer(algorithm: algorithm, servers: makeServers([1, 1], maxconn: 1), seed: 7)
        b.connectionOpened(server: 1)
        #expect(b.pick(hashKey: 5, excluding: 0) == .server(0))
        b.connectionOpened(server: 0)
        #expect(b.pick(hashKey: 5, excluding: 0) == .allFull)
        b.setUsable(false, server: 1)
        b.setUsable(false, server: 0)
        #expect(b.pick(hashKey: 5, excluding: 0) == .noServer)
    }

    @Test(arguments: allAlgorithms)
    func hotPathKeepsItsStorage(_ algorithm: Balancer.Algorithm) {
        // A copy-on-write copy in pick/connectionOpened/connectionClosed would
        // allocate a new buffer while the old one is still alive, so its
        // address would change on that very call.
        var b = Balancer(algorithm: algorithm, servers: makeServers([1, 2, 3, 4], maxconn: 50), seed: 7)
        let before = b.storageAddresses()
        for n in 0..<200 {
            if let s = b.pick(hashKey: UInt64(n), excluding: n % 4).server {
                #expect(b.storageAddresses() == before)
                b.connectionOpened(server: s)
                #expect(b.storageAddresses() == before)
                if n % 3 == 0 {
                    b.connectionClosed(server: s)
                    #expect(b.storageAddresses() == before)
                }
            } else {
                Issue.record("no server at pick \(n)")
            }
        }
    }

    @Test(arguments: allAlgorithms)
    func connectionCountsFollowOpenAndClose(_ algorithm: Balancer.Algorithm) {
        var b = Balancer(algorithm: algorithm, servers: makeServers([1, 1]), seed: 7)
        b.connectionOpened(server: 1)
        b.connectionOpened(server: 1)
        b.connectionClosed(server: 1)
        #expect(b.servers.map(\.activeConnections) == [0, 1])
    }

    @Test func weightsAreClampedTo256() {
        var b = Balancer(algorithm: .roundRobin, servers: makeServers([1000, -3]), seed: 7)
        #expect(b.servers.map(\.weight) == [256, 0])
        b.setWeight(300, server: 1)
        #expect(b.servers[1].weight == 256)
    }
}
