/// `balance roundrobin`: smooth weighted round robin (nginx's
/// `ngx_http_upstream_get_peer`). Each pick adds every eligible server's
/// weight to its running score, takes the highest score (lowest index on a
/// tie) and subtracts the sum of the weights from the winner. Over any
/// `sum(weights)` consecutive picks from a reset, server `i` is chosen exactly
/// `weight(i)` times, interleaved rather than in bursts.
///
/// Weights are read at every pick, so a weight change applies at once; every
/// change of weight or usability resets the scores, so the next cycle starts
/// clean. A full or excluded server neither scores nor is charged.
///
/// Cost: O(members) per pick, no allocation. (HAProxy's `lb_fwrr.c` is
/// O(log n) with trees; for the few dozen servers of a typical backend, a
/// linear pass over a contiguous array is as fast and far simpler.)
struct RoundRobin: LoadBalancingAlgorithm {
    /// Running score per server index.
    private(set) var scores: [Int]

    init(servers: [ServerSlot]) {
        scores = Array(repeating: 0, count: servers.count)
    }

    mutating func rebuild(servers: [ServerSlot], pool: Pool) {
        for i in scores.indices { scores[i] = 0 }
    }

    /// The pick when the pool has a single member, nil otherwise. It needs
    /// no score: the member's would rise by its weight and fall back by the
    /// same total, so `pick` would leave every score as it was.
    @inline(__always)
    static func loneMemberPick(servers: [ServerSlot], pool: Pool, excluding: Int) -> PickResult? {
        guard pool.members.count == 1 else { return nil }
        let only = pool.members[0]
        guard only != excluding && !servers[only].isFull else { return pool.fallback(servers: servers, excluding: excluding) }
        return .server(only)
    }

    mutating func pick(servers: [ServerSlot], pool: Pool, hashKey: UInt64?, excluding: Int) -> PickResult {
        var best = -1
        var total = 0
        for i in pool.members where i != excluding && !servers[i].isFull {
            let w = servers[i].weight
            scores[i] += w
            total += w
            if best < 0 || scores[i] > scores[best] { best = i }
        }
        guard best >= 0 else { return pool.fallback(servers: servers, excluding: excluding) }
        scores[best] -= total
        return .server(best)
    }
}
