/// `hash-type map-based` (HAProxy's `lb_map.c`): `balance source`, and
/// `balance uri|url_param|hdr|hash` unless `hash-type consistent`. Two maps, one over the active servers
/// and one over the backups, list each server `weight / gcd` times; a client
/// goes to `map[hash % map.count]`. The maps depend only on the weights and
/// the order of the servers, never on a seed, so every worker, and every
/// restart, sends the same client to the same server.
///
/// Unlike HAProxy, whose map only holds the servers that are up (so one server
/// going down moves most clients), the maps here also hold servers that are
/// down or full. A client whose entry is not eligible probes again with a
/// rehash (up to 8 times, in proportion to weight), then takes the next
/// eligible member in index order. So when a server goes down or fills up,
/// only its own clients move, and they come back when it does. A weight change
/// rebuilds the map: then, as with HAProxy's map-based hashing, many clients
/// may move.
///
/// The key may be any 64-bit hash: `Balancer.sourceHash` of the client
/// address, or a content key from `KeyHash.hash` (`balance uri`, `url_param`,
/// `hdr`, `hash` with `hash-type map-based`); `lookup` mixes it again, so a
/// 32-bit or weak key spreads as well. Without a key (`hashKey` nil) the pick
/// is a smooth weighted round robin over the same pool, HAProxy's fallback
/// when the key is absent.
///
/// Cost: O(1) per pick while the client's server is eligible, no allocation.
/// The maps are rebuilt only when a weight changes (they may grow then).
struct SourceHash: LoadBalancingAlgorithm {
    private(set) var activeMap: [Int32] = []
    private(set) var backupMap: [Int32] = []
    /// Picks without a key.
    private(set) var withoutKey: RoundRobin
    /// Weights the maps were built from.
    private var mappedWeights: [Int]

    static let probes = 8

    init(servers: [ServerSlot]) {
        mappedWeights = Array(repeating: -1, count: servers.count)
        withoutKey = RoundRobin(servers: servers)
        activeMap.reserveCapacity(servers.reduce(0) { $0 + ($1.isBackup ? 0 : $1.weight) })
        backupMap.reserveCapacity(servers.reduce(0) { $0 + ($1.isBackup ? $1.weight : 0) })
    }

    mutating func rebuild(servers: [ServerSlot], pool: Pool) {
        withoutKey.rebuild(servers: servers, pool: pool)
        var changed = false
        for i in servers.indices where mappedWeights[i] != servers[i].weight {
            mappedWeights[i] = servers[i].weight
            changed = true
        }
        guard changed else { return }
        let active = servers.indices.filter { !servers[$0].isBackup }
        let backup = servers.indices.filter { servers[$0].isBackup }
        buildSmoothTable(&activeMap, servers: active) { servers[$0].weight }
        buildSmoothTable(&backupMap, servers: backup) { servers[$0].weight }
    }

    mutating func pick(servers: [ServerSlot], pool: Pool, hashKey: UInt64?, excluding: Int) -> PickResult {
        guard let hashKey else {
            return withoutKey.pick(servers: servers, pool: pool, hashKey: nil, excluding: excluding)
        }
        switch pool.tier {
        case .none:
            return .noServer
        case .firstBackup:
            // A single member: no hashing to do.
            let i = pool.members[0]
            return pool.isEligible(i, servers: servers, excluding: excluding)
                ? .server(i) : pool.fallback(servers: servers, excluding: excluding)
        case .active:
            return lookup(activeMap, servers: servers, pool: pool, hashKey: hashKey, excluding: excluding)
        case .allBackups:
            return lookup(backupMap, servers: servers, pool: pool, hashKey: hashKey, excluding: excluding)
        }
    }

    private func lookup(_ map: [Int32], servers: [ServerSlot], pool: Pool, hashKey: UInt64,
                        excluding: Int) -> PickResult {
        let n = UInt64(map.count)
        guard n > 0 else { return pool.fallback(servers: servers, excluding: excluding) }
        // Mix again so that a weak key (a raw IPv4 address) still spreads.
        var h = mix64(hashKey)
        for _ in 0..<SourceHash.probes {
            let i = Int(map[Int(h % n)])
            if pool.isEligible(i, servers: servers, excluding: excluding) { return .server(i) }
            h = mix64(h &+ 0x9e37_79b9_7f4a_7c15)
        }
        let members = pool.members
        let m = members.count
        var k = Int(h % UInt64(max(m, 1)))
        for _ in 0..<m {
            let i = members[k]
            if i != excluding && !servers[i].isFull { return .server(i) }
            k += 1
            if k == m { k = 0 }
        }
        return pool.fallback(servers: servers, excluding: excluding)
    }
}
