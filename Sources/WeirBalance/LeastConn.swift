/// `balance leastconn`: the member whose load after taking this connection,
/// `(activeConnections + 1) / weight`, is lowest (compared by cross
/// multiplication, no division). Among equally loaded members the search
/// starts just after the previous winner, so ties rotate round robin, as
/// HAProxy's `lb_fwlc.c` does within a load level.
///
/// Weights and connection counts are read at every pick: a weight change
/// applies at once.
///
/// Cost: O(members) per pick, no allocation.
struct LeastConn: LoadBalancingAlgorithm {
    /// Position in `pool.members` where the next search starts.
    private var start = 0

    init(servers: [ServerSlot]) {}

    mutating func rebuild(servers: [ServerSlot], pool: Pool) {
        start = 0
    }

    mutating func pick(servers: [ServerSlot], pool: Pool, hashKey: UInt64?, excluding: Int) -> PickResult {
        let members = pool.members
        let n = members.count
        var k = start < n ? start : 0
        var best = -1
        var bestPos = 0
        for _ in 0..<n {
            let i = members[k]
            if i != excluding && !servers[i].isFull {
                if best < 0 || LeastConn.lighter(servers[i], than: servers[best]) {
                    best = i
                    bestPos = k
                }
            }
            k += 1
            if k == n { k = 0 }
        }
        guard best >= 0 else { return pool.fallback(servers: servers, excluding: excluding) }
        start = bestPos + 1 == n ? 0 : bestPos + 1
        return .server(best)
    }

    /// `(a.conns + 1) / a.weight < (b.conns + 1) / b.weight`; weights are > 0.
    @inline(__always)
    static func lighter(_ a: ServerSlot, than b: ServerSlot) -> Bool {
        (a.activeConnections + 1) * b.weight < (b.activeConnections + 1) * a.weight
    }
}
