/// One `balance` algorithm. Each conforming struct lives in its own file and
/// is listed in `AlgorithmState`; `Balancer` owns the servers and the pool and
/// lends them to the algorithm.
protocol LoadBalancingAlgorithm: Sendable {
    /// The servers' weights or usability changed (and once after `init`).
    /// Rebuild derived tables in place; may allocate, rarely.
    mutating func rebuild(servers: [ServerSlot], pool: Pool)

    /// The hot path: must not allocate. `excluding` is a server index or -1.
    /// Only pool members may be returned; a full member is skipped; when no
    /// other member has a free slot, `pool.fallback` decides. `hashKey` is
    /// read by the hashing algorithms only, which pick by weighted round
    /// robin when it is nil (the request carried no key).
    mutating func pick(servers: [ServerSlot], pool: Pool, hashKey: UInt64?, excluding: Int) -> PickResult
}

/// Which servers may take traffic now: the active servers that can, or when
/// there are none, the first backup (or every backup with `allBackups`).
/// Recomputed in place on every weight or usability change.
struct Pool: Sendable {
    enum Tier: Sendable, Equatable {
        /// No server can take traffic.
        case none
        /// Active (non-backup) servers.
        case active
        /// No active server: only the backup with the lowest id.
        case firstBackup
        /// No active server, `allBackups`: every backup.
        case allBackups
    }

    private(set) var tier: Tier = .none
    /// Member server indices, ascending. Capacity: every server.
    private(set) var members: [Int]
    /// `isMember[i]` for every server index.
    private(set) var isMember: [Bool]

    init(count: Int) {
        members = []
        members.reserveCapacity(count)
        isMember = Array(repeating: false, count: count)
    }

    mutating func recompute(servers: [ServerSlot], allBackups: Bool) {
        members.removeAll(keepingCapacity: true)
        for i in isMember.indices { isMember[i] = false }
        var anyActive = false
        var firstBackup = -1
        for (i, s) in servers.enumerated() where s.isCandidate {
            if !s.isBackup {
                anyActive = true
            } else if firstBackup < 0 || s.id < servers[firstBackup].id {
                firstBackup = i
            }
        }
        if anyActive {
            tier = .active
            for (i, s) in servers.enumerated() where s.isCandidate && !s.isBackup { add(i) }
        } else if firstBackup < 0 {
            tier = .none
        } else if allBackups {
            tier = .allBackups
            for (i, s) in servers.enumerated() where s.isCandidate && s.isBackup { add(i) }
        } else {
            tier = .firstBackup
            add(firstBackup)
        }
    }

    private mutating func add(_ i: Int) {
        members.append(i)
        isMember[i] = true
    }

    /// Member `i`, not full, not the excluded one.
    @inline(__always)
    func isEligible(_ i: Int, servers: [ServerSlot], excluding: Int) -> Bool {
        isMember[i] && i != excluding && !servers[i].isFull
    }

    /// When no member other than `excluding` has a free slot: the excluded
    /// server if it has one, else `.allFull`, or `.noServer` with no member.
    func fallback(servers: [ServerSlot], excluding: Int) -> PickResult {
        if excluding >= 0 && excluding < isMember.count && isMember[excluding] && !servers[excluding].isFull {
            return .server(excluding)
        }
        return members.isEmpty ? .noServer : .allFull
    }
}

/// Lays out a weighted cycle: every listed server appears `weight(i)` times,
/// spread as nginx's smooth weighted round robin spreads them. Weights are
/// first divided by their greatest common divisor (10,20,30 → 1,2,3).
/// O(total weight × servers); used only when rebuilding a map.
func buildSmoothTable(_ table: inout [Int32], servers: [Int], weight: (Int) -> Int) {
    table.removeAll(keepingCapacity: true)
    var divisor = 0
    for i in servers where weight(i) > 0 { divisor = gcd(divisor, weight(i)) }
    guard divisor > 0 else { return }
    var total = 0
    var current = [Int](repeating: 0, count: servers.count)
    for i in servers { total += weight(i) / divisor }
    for _ in 0..<total {
        var best = -1
        for (k, i) in servers.enumerated() {
            let w = weight(i) / divisor
            guard w > 0 else { continue }
            current[k] += w
            if best < 0 || current[k] > current[best] { best = k }
        }
        current[best] -= total
        table.append(Int32(servers[best]))
    }
}

func gcd(_ a: Int, _ b: Int) -> Int {
    var (x, y) = (a, b)
    while y != 0 { (x, y) = (y, x % y) }
    return x
}
