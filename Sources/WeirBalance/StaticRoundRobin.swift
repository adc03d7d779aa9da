/// `balance static-rr`: weighted round robin over a precomputed map (HAProxy's
/// `lb_map.c`). The map lists each member `weight / gcd` times, interleaved
/// like smooth round robin; a pick takes the next entry that is not full.
///
/// Weights are static, as in HAProxy: the map always uses the configured
/// weights. `Balancer.setWeight` accepts 0 (take the server out) or anything
/// else (back at its configured weight). The map is rebuilt, in its
/// preallocated storage, when a server goes down or comes back.
///
/// Cost: O(1) per pick when servers have free slots; at most one pass over the
/// map when many are full. No allocation.
struct StaticRoundRobin: LoadBalancingAlgorithm {
    let configuredWeights: [Int]
    private(set) var map: [Int32]
    private var position = 0

    init(servers: [ServerSlot]) {
        configuredWeights = servers.map(\.weight)
        map = []
        map.reserveCapacity(configuredWeights.reduce(0, +))
    }

    mutating func rebuild(servers: [ServerSlot], pool: Pool) {
        let weights = configuredWeights
        buildSmoothTable(&map, servers: pool.members) { weights[$0] }
        position = 0
    }

    mutating func pick(servers: [ServerSlot], pool: Pool, hashKey: UInt64?, excluding: Int) -> PickResult {
        let n = map.count
        var p = position
        for _ in 0..<n {
            let s = Int(map[p])
            p += 1
            if p == n { p = 0 }
            if s != excluding && !servers[s].isFull {
                position = p
                return .server(s)
            }
        }
        return pool.fallback(servers: servers, excluding: excluding)
    }
}
