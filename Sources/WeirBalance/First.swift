/// `balance first`: the member with the lowest `id` that has a free slot
/// (HAProxy's `lb_fas.c`). Weights are ignored except that a weight of 0
/// takes nothing. Meant for servers with `maxconn`: the next server only gets
/// traffic once the previous ones are full, so spare servers can idle.
///
/// Cost: O(servers) per pick in id order, no allocation; the id order is
/// sorted once in `init` (ids do not change at run time).
struct First: LoadBalancingAlgorithm {
    /// Server indices by ascending id, then index.
    let byID: [Int]

    init(servers: [ServerSlot]) {
        byID = servers.indices.sorted { (servers[$0].id, $0) < (servers[$1].id, $1) }
    }

    mutating func rebuild(servers: [ServerSlot], pool: Pool) {}

    mutating func pick(servers: [ServerSlot], pool: Pool, hashKey: UInt64?, excluding: Int) -> PickResult {
        for i in byID where pool.isEligible(i, servers: servers, excluding: excluding) {
            return .server(i)
        }
        return pool.fallback(servers: servers, excluding: excluding)
    }
}
