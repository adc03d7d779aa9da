import Testing
import WeirBalance

@Suite("source")
struct SourceHashTests {
    /// Hash of the IPv4 address 10.0.x.y for client number n.
    static func ipv4Key(_ n: Int) -> UInt64 {
        let bytes: [UInt8] = [10, 0, UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
        return bytes.withUnsafeBytes { Balancer.sourceHash($0) }
    }

    @Test func sameClientSameServer() {
        var b = Balancer(algorithm: .source, servers: makeServers([1, 2, 3, 1]), seed: 1)
        for n in 0..<500 {
            let key = Self.ipv4Key(n)
            let first = b.pick(hashKey: key)
            for _ in 0..<3 { #expect(b.pick(hashKey: key) == first) }
        }
    }

    @Test func instancesWithDifferentSeedsAgree() {
        var a = Balancer(algorithm: .source, servers: makeServers([1, 2, 3, 1]), seed: 1)
        var b = Balancer(algorithm: .source, servers: makeServers([1, 2, 3, 1]), seed: 0xdead_beef)
        _ = b.sequence(17, key: Self.ipv4Key) // history must not matter either
        for n in 0..<2000 {
            #expect(a.pick(hashKey: Self.ipv4Key(n)) == b.pick(hashKey: Self.ipv4Key(n)))
        }
    }

    @Test func sourceHashIsFixedAcrossProcesses() {
        // FNV-1a 64 then the MurmurHash3 fmix64 finalizer, computed here
        // independently of the implementation: a change of hash would move
        // every client on upgrade.
        func reference(_ bytes: [UInt8]) -> UInt64 {
            var h: UInt64 = 14_695_981_039_346_656_037
            for b in bytes { h = (h ^ UInt64(b)) &* 1_099_511_628_211 }
            h ^= h >> 33; h = h &* 0xff51_afd7_ed55_8ccd
            h ^= h >> 33; h = h &* 0xc4ce_b9fe_1a85_ec53
            return h ^ (h >> 33)
        }
        let v4: [UInt8] = [192, 168, 1, 20]
        let v6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]
        #expect(v4.withUnsafeBytes { Balancer.sourceHash($0) } == reference(v4))
        #expect(v6.withUnsafeBytes { Balancer.sourceHash($0) } == reference(v6))
        #expect(v4.withUnsafeBytes { Balancer.sourceHash($0) } != v6.withUnsafeBytes { Balancer.sourceHash($0) })
    }

    @Test func distributionFollowsWeights() {
        var b = Balancer(algorithm: .source, servers: makeServers([1, 2, 3, 2]), seed: 1)
        let counts = b.spread(32000, key: Self.ipv4Key)
        for (s, w) in [1, 2, 3, 2].enumerated() {
            let expected = 32000 * w / 8
            #expect(abs(counts[s] - expected) < expected / 10, "server \(s): \(counts[s]) vs \(expected)")
        }
    }

    @Test func rawIntegerKeysSpreadToo() {
        var b = Balancer(algorithm: .source, servers: makeServers([1, 1, 1, 1]), seed: 1)
        let counts = b.spread(4000) // keys 0, 1, 2…: pick mixes them again
        for c in counts { #expect(c > 800 && c < 1200) }
    }

    @Test(arguments: KeyHash.allCases.filter { $0 != .identity })
    func contentKeysSpreadByWeight(_ function: KeyHash) {
        // `hash-type map-based` with a content key: 32-bit hashes of URI
        // paths, without the avalanche modifier (HAProxy's default).
        var b = Balancer(algorithm: .source, servers: makeServers([1, 2, 3, 2]), seed: 1)
        let counts = b.spread(32000) { n in
            var path = "/static/img/\(n).png"
            return path.withUTF8 { UInt64(KeyHash.hash(UnsafeRawBufferPointer($0), function: function, avalanche: false)) }
        }
        for (s, w) in [1, 2, 3, 2].enumerated() {
            let expected = 32000 * w / 8
            #expect(abs(counts[s] - expected) < expected / 10, "server \(s): \(counts[s]) vs \(expected)")
        }
    }

    @Test func aDownServerOnlyMovesItsOwnClients() {
        var b = Balancer(algorithm: .source, servers: makeServers([1, 1, 1, 1, 1]), seed: 1)
        let before = b.sequence(5000, key: Self.ipv4Key)
        b.setUsable(false, server: 2)
        let during = b.sequence(5000, key: Self.ipv4Key)
        var movedTo = [0, 0, 0, 0, 0]
        for n in 0..<5000 {
            if before[n] == 2 {
                movedTo[during[n]] += 1
            } else {
                #expect(during[n] == before[n], "client \(n) moved without cause")
            }
        }
        #expect(movedTo[2] == 0)
        let orphans = before.filter { $0 == 2 }.count
        for s in [0, 1, 3, 4] {
            #expect(movedTo[s] > orphans / 8, "server \(s) took \(movedTo[s]) of \(orphans)")
        }
        b.setUsable(true, server: 2)
        #expect(b.sequence(5000, key: Self.ipv4Key) == before)
    }

    @Test func aFullServerOnlyDivertsItsOwnClients() {
        var servers = makeServers([1, 1, 1])
        servers[0].maxconn = 1
        var b = Balancer(algorithm: .source, servers: servers, seed: 1)
        let before = b.sequence(1000, key: Self.ipv4Key)
        b.connectionOpened(server: 0)
        let during = b.sequence(1000, key: Self.ipv4Key)
        for n in 0..<1000 {
            if before[n] == 0 { #expect(during[n] != 0) } else { #expect(during[n] == before[n]) }
        }
    }

    @Test func weightChangeRemapsButStaysDeterministic() {
        var a = Balancer(algorithm: .source, servers: makeServers([1, 1, 1]), seed: 1)
        a.setWeight(3, server: 0)
        var b = Balancer(algorithm: .source, servers: makeServers([3, 1, 1]), seed: 2)
        #expect(a.sequence(2000, key: Self.ipv4Key) == b.sequence(2000, key: Self.ipv4Key))
        let counts = a.spread(5000, key: Self.ipv4Key)
        #expect(counts[0] > 2700 && counts[0] < 3300)
    }

    @Test func allBackupsAreHashedWhenNoActiveServerIsLeft() {
        var b = Balancer(algorithm: .source, servers: makeServers([1, 1, 1], backups: [1, 2]),
                         allBackups: true, seed: 1)
        b.setUsable(false, server: 0)
        let seq = b.sequence(1000, key: Self.ipv4Key)
        #expect(!seq.contains(0))
        #expect(seq.filter { $0 == 1 }.count > 350)
        #expect(seq == b.sequence(1000, key: Self.ipv4Key))
    }
}
