import Testing
@testable import WeirBalance

/// 100,000 well-spread keys, computed once.
private let manyKeys: [UInt64] = (0..<100_000).map(contentKey)

@Suite("hash-type consistent")
struct ConsistentHashTests {
    /// Which server each of `keys` goes to; no connection stays open.
    static func mapping(_ b: inout Balancer, _ keys: [UInt64] = manyKeys) -> [Int] {
        keys.map { b.pick(hashKey: $0).server ?? -1 }
    }

    static func counts(_ mapping: [Int], servers: Int) -> [Int] {
        var counts = Array(repeating: 0, count: servers)
        for s in mapping where s >= 0 { counts[s] += 1 }
        return counts
    }

    @Test func distributionFollowsWeights() {
        let weights = [10, 20, 30, 40]
        var b = Balancer(algorithm: .consistentHash, servers: makeServers(weights), seed: 0)
        let counts = Self.counts(Self.mapping(&b), servers: 4)
        for (s, w) in weights.enumerated() {
            let expected = Double(manyKeys.count * w) / 100
            let ratio = Double(counts[s]) / expected
            #expect(ratio > 0.85 && ratio < 1.15, "server \(s): \(counts[s]) keys, \(expected) expected")
        }
    }

    @Test func removingAServerMovesOnlyItsKeysAndAboutAFifth() {
        var b = Balancer(algorithm: .consistentHash, servers: makeServers([1, 1, 1, 1, 1]), seed: 0)
        let before = Self.mapping(&b)
        b.setUsable(false, server: 2)
        let during = Self.mapping(&b)
        var moved = 0
        var movedTo = [0, 0, 0, 0, 0]
        for n in manyKeys.indices where during[n] != before[n] {
            #expect(before[n] == 2, "key \(n) moved from \(before[n]) to \(during[n]) without cause")
            moved += 1
            movedTo[during[n]] += 1
        }
        #expect(!during.contains(2))
        #expect(moved == before.filter { $0 == 2 }.count)
        let share = Double(moved) / Double(manyKeys.count)
        #expect(share > 0.15 && share < 0.25, "\(moved) keys moved")
        for s in [0, 1, 3, 4] { #expect(movedTo[s] > moved / 10, "server \(s) took \(movedTo[s]) of \(moved)") }

        b.setUsable(true, server: 2)
        #expect(Self.mapping(&b) == before)
    }

    @Test func weightChangesMoveOnlyKeysToOrFromThatServer() {
        var b = Balancer(algorithm: .consistentHash, servers: makeServers([4, 4, 4, 4]), seed: 0)
        let before = Self.mapping(&b)
        b.setWeight(8, server: 1)
        let heavier = Self.mapping(&b)
        for n in manyKeys.indices where heavier[n] != before[n] {
            #expect(heavier[n] == 1, "key \(n) moved from \(before[n]) to \(heavier[n])")
        }
        let share = Double(heavier.filter { $0 == 1 }.count) / Double(manyKeys.count)
        #expect(share > 0.32 && share < 0.48, "server 1 has \(share) of the keys at weight 8 of 20")

        b.setWeight(2, server: 1)
        let lighter = Self.mapping(&b)
        for n in manyKeys.indices where lighter[n] != before[n] {
            #expect(before[n] == 1, "key \(n) moved from \(before[n]) to \(lighter[n])")
        }

        b.setWeight(4, server: 1)
        #expect(Self.mapping(&b) == before)
        var fresh = Balancer(algorithm: .consistentHash, servers: makeServers([4, 8, 4, 4]), seed: 0)
        b.setWeight(8, server: 1)
        #expect(Self.mapping(&b) == Self.mapping(&fresh))
    }

    @Test func mappingIsDeterministicAndFollowsServerIDsNotOrder() {
        var a = Balancer(algorithm: .consistentHash, servers: makeServers([1, 2, 3]), seed: 1)
        var b = Balancer(algorithm: .consistentHash, servers: makeServers([1, 2, 3]), seed: 0xdead_beef)
        _ = b.sequence(17, key: contentKey) // history must not matter
        b.connectionOpened(server: 0)
        b.connectionClosed(server: 0)
        let keys = Array(manyKeys.prefix(10_000))
        let mapped = Self.mapping(&a, keys)
        #expect(Self.mapping(&b, keys) == mapped)

        // The same servers declared in reverse order (ids kept) map every key
        // to the same server id.
        var reversed = Balancer(algorithm: .consistentHash, servers: Array(makeServers([1, 2, 3]).reversed()), seed: 1)
        let ids = mapped.map { a.servers[$0].id }
        #expect(Self.mapping(&reversed, keys).map { reversed.servers[$0].id } == ids)
    }

    /// Keys "key-0"…"key-199" hashed with `sdbm avalanche`, and the server
    /// HAProxy 2.6 sent each to (`balance hdr(k)`, `hash-type consistent sdbm
    /// avalanche`, servers s1…s5 with ids 1, 2, 7, 4, 5 and weights 1, 2, 3,
    /// 1, 1), as the digit of the server's name; then again with s3 disabled.
    static let haproxyAllUp =
        "32215132133321323222243325322213332355313351312332234131344331255315132231453433123323323453313332"
        + "223343332242232231332142233322334133324222123533222323443123322533451524242323244325312352523312434221"
    static let haproxyThirdDown =
        "12215142152221225222242225222215112155212451112412224111244111255215112221454425122122421452215112"
        + "221442122242222241122142252222124142124222122541222521444121222511451524242421244425112452522112424221"

    @Test func mapsKeysAsHAProxyDoes() {
        var servers = makeServers([1, 2, 3, 1, 1])
        servers[2].id = 7
        var b = Balancer(algorithm: .consistentHash, servers: servers, seed: 0)
        let keys = (0..<200).map { n in
            var key = "key-\(n)"
            return key.withUTF8 { UInt64(KeyHash.hash(UnsafeRawBufferPointer($0), function: .sdbm, avalanche: true)) }
        }
        let names = { (mapping: [Int]) in String(mapping.map { Character(String($0 + 1)) }) }
        #expect(names(Self.mapping(&b, keys)) == Self.haproxyAllUp)
        b.setUsable(false, server: 2)
        #expect(names(Self.mapping(&b, keys)) == Self.haproxyThirdDown)
    }

    @Test func backupsTakeOverOnlyWhenNoActiveServerIsLeft() {
        var b = Balancer(algorithm: .consistentHash, servers: makeServers([1, 1, 1, 1], backups: [2, 3]),
                         allBackups: true, seed: 0)
        let keys = Array(manyKeys.prefix(20_000))
        let normal = Self.mapping(&b, keys)
        #expect(!normal.contains(2) && !normal.contains(3))
        b.setUsable(false, server: 0)
        b.setUsable(false, server: 1)
        let onBackups = Self.mapping(&b, keys)
        let counts = Self.counts(onBackups, servers: 4)
        #expect(counts[0] == 0 && counts[1] == 0)
        #expect(counts[2] > 6000 && counts[3] > 6000, "\(counts)")
        // Losing one backup moves only that backup's keys.
        b.setUsable(false, server: 3)
        let oneBackup = Self.mapping(&b, keys)
        for n in keys.indices where onBackups[n] != 3 { #expect(oneBackup[n] == onBackups[n]) }
        b.setUsable(true, server: 3)
        b.setUsable(true, server: 1)
        b.setUsable(true, server: 0)
        #expect(Self.mapping(&b, keys) == normal)
    }

    @Test func withoutAllBackupsOnlyTheFirstBackupServes() {
        var b = Balancer(algorithm: .consistentHash, servers: makeServers([1, 1, 1], backups: [1, 2]), seed: 0)
        b.setUsable(false, server: 0)
        #expect(Self.counts(Self.mapping(&b, Array(manyKeys.prefix(1000))), servers: 3) == [0, 1000, 0])
    }

    @Test func aFullServerOnlyDivertsItsOwnKeys() {
        var servers = makeServers([1, 1, 1, 1])
        servers[1].maxconn = 1
        var b = Balancer(algorithm: .consistentHash, servers: servers, seed: 0)
        let keys = Array(manyKeys.prefix(20_000))
        let before = Self.mapping(&b, keys)
        b.connectionOpened(server: 1)
        let during = Self.mapping(&b, keys)
        for n in keys.indices {
            if before[n] == 1 { #expect(during[n] != 1) } else { #expect(during[n] == before[n]) }
        }
        let diverted = Self.counts(during, servers: 4)
        for s in [0, 2, 3] {
            #expect(diverted[s] > Self.counts(before, servers: 4)[s], "server \(s) took none of server 1's keys")
        }
        b.connectionClosed(server: 1)
        #expect(Self.mapping(&b, keys) == before)
    }

    @Test func nearlyEveryServerFullStillFindsTheFreeOne() {
        // Far more points are full than free: the walk gives up and the
        // members are scanned, so the free server is still found.
        var b = Balancer(algorithm: .consistentHash, servers: makeServers([256, 256, 256, 1], maxconn: 1), seed: 0)
        for s in 0..<3 { b.connectionOpened(server: s) }
        for key in manyKeys.prefix(2000) { #expect(b.pick(hashKey: key) == .server(3)) }
        b.connectionOpened(server: 3)
        #expect(b.pick(hashKey: manyKeys[0]) == .allFull)
    }

    @Test func onlyTheLow32BitsOfTheKeyCount() {
        var b = Balancer(algorithm: .consistentHash, servers: makeServers([1, 1, 1]), seed: 0)
        for key in manyKeys.prefix(1000) {
            #expect(b.pick(hashKey: key) == b.pick(hashKey: key | 0xabcd_0000_0000_0000))
        }
    }
}

@Suite("Hashing algorithms without a key")
struct KeylessPickTests {
    @Test(arguments: hashingAlgorithms)
    func noKeyIsWeightedRoundRobin(_ algorithm: Balancer.Algorithm) {
        var b = Balancer(algorithm: algorithm, servers: makeServers([1, 2, 3]), seed: 0)
        var counts = [0, 0, 0]
        var picks: [Int] = []
        for _ in 0..<600 {
            let s = b.pick(hashKey: nil).server ?? -1
            picks.append(s)
            if s >= 0 { counts[s] += 1 }
        }
        #expect(counts == [100, 200, 300])
        #expect(longestRun(picks) <= 2)
    }

    @Test(arguments: hashingAlgorithms)
    func noKeyFollowsTheSharedRules(_ algorithm: Balancer.Algorithm) {
        var b = Balancer(algorithm: algorithm, servers: makeServers([1, 1, 1, 1], backups: [3], maxconn: 1), seed: 0)
        b.setUsable(false, server: 0)
        b.connectionOpened(server: 1)
        for _ in 0..<10 { #expect(b.pick(hashKey: nil) == .server(2)) }
        #expect(b.pick(hashKey: nil, excluding: 2) == .server(2))
        b.connectionOpened(server: 2)
        #expect(b.pick(hashKey: nil) == .allFull)
        b.setUsable(false, server: 1)
        b.setUsable(false, server: 2)
        #expect(b.pick(hashKey: nil) == .server(3))
    }

    @Test(arguments: hashingAlgorithms)
    func keyedPicksAreUnaffectedByKeylessOnes(_ algorithm: Balancer.Algorithm) {
        var a = Balancer(algorithm: algorithm, servers: makeServers([1, 2, 3]), seed: 0)
        var b = Balancer(algorithm: algorithm, servers: makeServers([1, 2, 3]), seed: 0)
        for n in 0..<1000 {
            if n % 3 == 0 { _ = b.pick(hashKey: nil) }
            #expect(a.pick(hashKey: contentKey(n)) == b.pick(hashKey: contentKey(n)))
        }
    }

    @Test(arguments: allAlgorithms)
    func noKeyKeepsTheHotPathStorage(_ algorithm: Balancer.Algorithm) {
        var b = Balancer(algorithm: algorithm, servers: makeServers([1, 2, 3, 4]), seed: 7)
        let before = b.storageAddresses()
        for n in 0..<200 {
            _ = b.pick(hashKey: nil, excluding: n % 4)
            #expect(b.storageAddresses() == before)
        }
    }
}
