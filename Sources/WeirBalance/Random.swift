/// `balance random(draws)`: draws `draws` members at random in proportion to
/// their weights and keeps the least loaded, `(activeConnections + 1) /
/// weight`, the "power of two choices" with the default of 2 draws (HAProxy
/// draws from its consistent-hash tree; we draw from cumulative weights).
/// Draws that hit a full or excluded server are lost; when every draw is lost
/// the least loaded eligible member is taken, so a free slot is never missed.
///
/// The generator is xoshiro256**, seeded from `seed` with splitmix64 and kept
/// in the struct: deterministic for a seed, no system randomness per pick.
///
/// Cost: O(draws × log members) per pick, no allocation. The cumulative
/// weights are rebuilt in preallocated storage on weight or usability
/// changes, so a weight change applies at once.
struct RandomDraws: LoadBalancingAlgorithm {
    let draws: Int
    var generator: Xoshiro256StarStar
    /// `cumulative[k]`: sum of the weights of `pool.members[0...k]`.
    private(set) var cumulative: [Int]

    init(servers: [ServerSlot], draws: Int, seed: UInt64) {
        self.draws = max(draws, 1)
        generator = Xoshiro256StarStar(seed: seed)
        cumulative = []
        cumulative.reserveCapacity(servers.count)
    }

    mutating func rebuild(servers: [ServerSlot], pool: Pool) {
        cumulative.removeAll(keepingCapacity: true)
        var sum = 0
        for i in pool.members {
            sum += servers[i].weight
            cumulative.append(sum)
        }
    }

    mutating func pick(servers: [ServerSlot], pool: Pool, hashKey: UInt64?, excluding: Int) -> PickResult {
        let members = pool.members
        guard let total = cumulative.last, total > 0 else {
            return pool.fallback(servers: servers, excluding: excluding)
        }
        var best = -1
        for _ in 0..<draws {
            let r = Int(generator.next(below: UInt64(total)))
            // First k with cumulative[k] > r.
            var lo = 0
            var hi = cumulative.count - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if cumulative[mid] > r { hi = mid } else { lo = mid + 1 }
            }
            let i = members[lo]
            if i == excluding || servers[i].isFull { continue }
            if best < 0 || LeastConn.lighter(servers[i], than: servers[best]) { best = i }
        }
        if best < 0 {
            for i in members where i != excluding && !servers[i].isFull {
                if best < 0 || LeastConn.lighter(servers[i], than: servers[best]) { best = i }
            }
        }
        return best >= 0 ? .server(best) : pool.fallback(servers: servers, excluding: excluding)
    }
}

/// xoshiro256** (Blackman and Vigna), seeded with splitmix64.
struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x = x &+ 0x9e37_79b9_7f4a_7c15
            var z = x
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    mutating func next() -> UInt64 {
        let result = (s1 &* 5).rotatedLeft(7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3.rotatedLeft(45)
        return result
    }

    /// Uniform in 0..<bound (Lemire's multiply-shift; the bias for bounds
    /// below 2^20 is under 2^-44, irrelevant here).
    mutating func next(below bound: UInt64) -> UInt64 {
        next().multipliedFullWidth(by: bound).high
    }
}

extension UInt64 {
    @inline(__always)
    func rotatedLeft(_ k: UInt64) -> UInt64 { (self << k) | (self >> (64 - k)) }
}
