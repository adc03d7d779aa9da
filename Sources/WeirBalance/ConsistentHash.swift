/// `hash-type consistent` (HAProxy's `lb_chash.c`): every server owns
/// `weight × 16` points on a 32-bit ring, and a key goes to the point nearest
/// its hash (the one before it on a tie), wrapping around the ring.
///
/// Point `k` of a server sits at `fullAvalanche(id × 4096 + k)`, where `id` is
/// the server's configured id: HAProxy's placement, so with the same ids and
/// weights a key lands on the same server as in HAProxy. Nothing depends on a
/// seed, on the order of the servers or on history, so every worker, and every
/// restart, sends a key to the same server.
///
/// The ring holds the points of the pool's members only (the usable active
/// servers, or the backups in use). Taking a server out removes its points:
/// the keys nearest them move to the next nearest points, spread over the
/// other servers, and no other key moves; putting it back restores them. A
/// weight change adds or removes points of that server only (point `k` never
/// moves), so only keys that move to or from it change server.
///
/// A full or excluded server is skipped: the pick walks on along the ring, for
/// up to `walkLimit` points, then takes the first member with a free slot in
/// index order after the nearest point's server (so a pick stays O(members)
/// even when nearly every server is full).
///
/// Without a key (`hashKey` nil) the pick is a smooth weighted round robin
/// over the same pool, HAProxy's fallback when the key is absent.
///
/// Cost: O(log points + walk) per pick, no allocation. A weight change
/// re-sorts every point (O(points log points), may allocate); a change of
/// usability refilters the sorted points into the ring in place (O(points)).
struct ConsistentHash: LoadBalancingAlgorithm {
    /// Points per unit of weight (HAProxy's `BE_WEIGHT_SCALE`).
    static let pointsPerWeight = 16
    /// Point numbers reserved per server id: the most points a server can
    /// have, 256 × 16 (HAProxy's `SRV_EWGHT_RANGE`).
    static let pointsPerID: UInt32 = 4096
    /// Points visited past full or excluded servers before falling back to
    /// the members in index order.
    static let walkLimit = 64

    /// Every point of every server with a weight above 0, ascending; a point
    /// is `position << 32 | serverIndex`, so equal positions order by index.
    private(set) var points: [UInt64] = []
    /// The points of the pool's members, ascending: what a pick searches.
    private(set) var ring: [UInt64] = []
    /// Picks without a key.
    private(set) var withoutKey: RoundRobin
    /// Weights the points were placed for.
    private var placedWeights: [Int]

    init(servers: [ServerSlot]) {
        withoutKey = RoundRobin(servers: servers)
        placedWeights = Array(repeating: -1, count: servers.count)
    }

    mutating func rebuild(servers: [ServerSlot], pool: Pool) {
        var weightsChanged = false
        for i in servers.indices where placedWeights[i] != servers[i].weight {
            placedWeights[i] = servers[i].weight
            weightsChanged = true
        }
        if weightsChanged { placePoints(servers: servers) }
        ring.removeAll(keepingCapacity: true)
        for point in points where pool.isMember[ConsistentHash.server(of: point)] { ring.append(point) }
        withoutKey.rebuild(servers: servers, pool: pool)
    }

    mutating func pick(servers: [ServerSlot], pool: Pool, hashKey: UInt64?, excluding: Int) -> PickResult {
        guard let hashKey else {
            return withoutKey.pick(servers: servers, pool: pool, hashKey: nil, excluding: excluding)
        }
        let count = ring.count
        guard count > 0 else { return pool.fallback(servers: servers, excluding: excluding) }
        let position = UInt32(truncatingIfNeeded: hashKey)
        var k = firstPoint(atOrAfter: position)
        if k == count { k = 0 }
        let before = k == 0 ? count - 1 : k - 1
        if position &- ConsistentHash.position(of: ring[before]) <= ConsistentHash.position(of: ring[k]) &- position {
            k = before
        }
        let nearest = ConsistentHash.server(of: ring[k])
        for _ in 0..<min(count, ConsistentHash.walkLimit) {
            let i = ConsistentHash.server(of: ring[k])
            if pool.isEligible(i, servers: servers, excluding: excluding) { return .server(i) }
            k += 1
            if k == count { k = 0 }
        }
        return firstFreeMember(after: nearest, servers: servers, pool: pool, excluding: excluding)
    }

    private mutating func placePoints(servers: [ServerSlot]) {
        points.removeAll(keepingCapacity: true)
        for (i, server) in servers.enumerated() where server.weight > 0 {
            let first = UInt32(truncatingIfNeeded: server.id) &* ConsistentHash.pointsPerID
            for k in 0..<server.weight * ConsistentHash.pointsPerWeight {
                let position = KeyHash.fullAvalanche(first &+ UInt32(k))
                points.append(UInt64(position) << 32 | UInt64(i))
            }
        }
        points.sort()
        ring.reserveCapacity(points.count)
    }

    /// Index of the first ring point at or after `position`; `ring.count` if none.
    private func firstPoint(atOrAfter position: UInt32) -> Int {
        let target = UInt64(position) << 32
        var low = 0
        var high = ring.count
        while low < high {
            let middle = (low + high) / 2
            if ring[middle] < target { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The first member after `server` in index order, wrapping, that has a
    /// free slot and is not excluded; else `pool.fallback`.
    private func firstFreeMember(after server: Int, servers: [ServerSlot], pool: Pool,
                                 excluding: Int) -> PickResult {
        let members = pool.members
        var k = 0
        while k < members.count && members[k] <= server { k += 1 }
        for _ in 0..<members.count {
            if k == members.count { k = 0 }
            let i = members[k]
            if i != excluding && !servers[i].isFull { return .server(i) }
            k += 1
        }
        return pool.fallback(servers: servers, excluding: excluding)
    }

    @inline(__always)
    private static func position(of point: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: point >> 32) }

    @inline(__always)
    private static func server(of point: UInt64) -> Int { Int(truncatingIfNeeded: point & 0xffff_ffff) }
}
