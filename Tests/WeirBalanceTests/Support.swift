import Testing
@testable import WeirBalance

/// Servers with the given weights; ids 1, 2, 3… in index order.
func makeServers(_ weights: [Int], backups: Set<Int> = [], maxconn: Int = 0) -> [ServerSlot] {
    weights.enumerated().map { i, w in
        ServerSlot(weight: w, isBackup: backups.contains(i), maxconn: maxconn, id: i + 1)
    }
}

extension PickResult {
    var server: Int? {
        if case .server(let i) = self { return i }
        return nil
    }
}

extension Balancer {
    /// Picks `count` times with keys 0, 1, 2…; each connection closes at once.
    mutating func sequence(_ count: Int, key: (Int) -> UInt64 = { UInt64($0) }) -> [Int] {
        (0..<count).map { n in
            guard let s = pick(hashKey: key(n)).server else {
                Issue.record("pick \(n) found no server")
                return -1
            }
            return s
        }
    }

    /// How many times each server was picked over `count` picks.
    mutating func spread(_ count: Int, key: (Int) -> UInt64 = { UInt64($0) }) -> [Int] {
        var counts = Array(repeating: 0, count: servers.count)
        for s in sequence(count, key: key) where s >= 0 { counts[s] += 1 }
        return counts
    }

    /// Base addresses of every array the hot path touches.
    func storageAddresses() -> [UInt] {
        func address<T>(_ a: [T]) -> UInt {
            a.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        }
        var result = [address(servers), address(pool.members), address(pool.isMember)]
        switch state {
        case .roundRobin(let a): result.append(address(a.scores))
        case .staticRoundRobin(let a): result.append(address(a.map))
        case .source(let a): result += [address(a.activeMap), address(a.backupMap), address(a.withoutKey.scores)]
        case .random(let a): result.append(address(a.cumulative))
        case .first(let a): result.append(address(a.byID))
        case .consistentHash(let a):
            result += [address(a.points), address(a.ring), address(a.withoutKey.scores)]
        case .leastConn, .moving: break
        }
        return result
    }
}

/// Longest run of the same value.
func longestRun(_ xs: [Int]) -> Int {
    var best = 0, run = 0, last = Int.min
    for x in xs {
        run = x == last ? run + 1 : 1
        last = x
        best = max(best, run)
    }
    return best
}

let allAlgorithms: [Balancer.Algorithm] = [
    .roundRobin, .staticRoundRobin, .leastConn, .first, .source, .random(draws: 2), .consistentHash,
]

/// Algorithms that spread load over every member (not `first`).
let spreadingAlgorithms: [Balancer.Algorithm] = [
    .roundRobin, .staticRoundRobin, .leastConn, .source, .random(draws: 2), .consistentHash,
]

/// Algorithms that read the key, and pick by round robin without one.
let hashingAlgorithms: [Balancer.Algorithm] = [.source, .consistentHash]

/// A well-spread key for request number n, as the worker would pass: the
/// sdbm hash of a URI path with the avalanche modifier. (`consistentHash`
/// uses the key's bits as a ring position, so raw counters 0, 1, 2… would all
/// land on the first point.)
func contentKey(_ n: Int) -> UInt64 {
    var path = "/objects/\(n)"
    return path.withUTF8 { UInt64(KeyHash.hash(UnsafeRawBufferPointer($0), function: .sdbm, avalanche: true)) }
}
