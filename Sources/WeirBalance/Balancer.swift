/// What a balancing algorithm sees of one server. The proxy keeps these
/// current; the algorithms never allocate when picking.
public struct ServerSlot: Sendable, Hashable {
    /// Effective weight, 0...256. A weight of 0 takes no new traffic.
    public var weight: Int
    public var isBackup: Bool
    /// Not disabled, not down, not in maintenance.
    public var isUsable: Bool
    /// Connections to this server right now.
    public var activeConnections: Int
    /// 0 means no limit.
    public var maxconn: Int
    /// `id` from the configuration (`first` uses the lowest id first).
    public var id: Int

    public init(weight: Int, isBackup: Bool = false, isUsable: Bool = true, activeConnections: Int = 0,
                maxconn: Int = 0, id: Int) {
        self.weight = weight
        self.isBackup = isBackup
        self.isUsable = isUsable
        self.activeConnections = activeConnections
        self.maxconn = maxconn
        self.id = id
    }

    public var isFull: Bool { maxconn > 0 && activeConnections >= maxconn }

    /// May take traffic at all: usable and a weight above 0 (HAProxy's
    /// `srv_is_usable`). Whether it is full is a separate question.
    @inlinable
    public var isCandidate: Bool { isUsable && weight > 0 }
}

public enum PickResult: Sendable, Hashable {
    case server(Int)
    /// Usable servers exist but all are at their maxconn: queue the request.
    case allFull
    /// The server the session is bound to (persistence) is at its maxconn
    /// and `maxqueue` sessions already wait for it.
    case queueFull
    /// No usable server at all.
    case noServer
}

/// Chooses the server for each new connection of one backend, with HAProxy's
/// `balance` semantics.
///
/// Rules shared by every algorithm (HAProxy's):
/// * only usable servers with a weight above 0 take traffic;
/// * backup servers are used only when no active (non-backup) server can take
///   traffic; then only the first backup (lowest `id`), or every backup when
///   `allBackups` (`option allbackups`);
/// * a full server (`maxconn` reached) is skipped; if servers exist but all are
///   full the answer is `.allFull` (the proxy queues), if none exist `.noServer`;
/// * `excluding` names a server to avoid (a redispatch after a failed connect);
///   it is still returned when it is the only server with a free slot.
///
/// Cost: `pick`, `connectionOpened` and `connectionClosed` never allocate.
/// Everything the algorithms need is sized in `init` and rebuilt in place by
/// `setWeight`/`setUsable`, which are the only calls that may allocate (the
/// `source` table or the `consistentHash` ring growing after a weight
/// increase, `static-rr`'s table order).
/// Do not keep a copy of `servers` across calls: holding one would force a
/// copy-on-write on the next mutation.
public struct Balancer: Sendable {
    /// `balance` algorithms (configuration.txt, `balance`).
    public enum Algorithm: Sendable, Hashable {
        /// Smooth weighted round robin; weights may change at run time.
        case roundRobin
        /// Weighted round robin over a precomputed table; weights are static.
        case staticRoundRobin
        /// Fewest active connections relative to weight; ties round robin.
        case leastConn
        /// The server with the lowest `id` that has a free slot.
        case first
        /// `hash-type map-based`: the key indexes a map of the servers,
        /// repeated by weight. `balance source` (the key is `sourceHash` of
        /// the client address) and `balance uri|url_param|hdr|hash` (the key
        /// is `KeyHash.hash` of the content) with the default hash type.
        case source
        /// Weighted random, `draws` candidates, the least loaded wins.
        case random(draws: Int)
        /// `hash-type consistent`: the low 32 bits of the key pick the nearest
        /// of `weight × 16` points per server on a ring placed by server id,
        /// so a server going down or changing weight moves only its own keys.
        case consistentHash
    }

    public let algorithm: Algorithm
    public let allBackups: Bool
    public private(set) var servers: [ServerSlot]

    /// Weights as configured; `static-rr` only ever uses these.
    let configuredWeights: [Int]
    var pool: Pool
    var state: AlgorithmState

    public init(algorithm: Algorithm, servers: [ServerSlot], allBackups: Bool = false, seed: UInt64) {
        var servers = servers
        for i in servers.indices { servers[i].weight = Balancer.clampWeight(servers[i].weight) }
        self.algorithm = algorithm
        self.allBackups = allBackups
        self.servers = servers
        self.configuredWeights = servers.map(\.weight)
        self.pool = Pool(count: servers.count)
        switch algorithm {
        case .roundRobin: state = .roundRobin(RoundRobin(servers: servers))
        case .staticRoundRobin: state = .staticRoundRobin(StaticRoundRobin(servers: servers))
        case .leastConn: state = .leastConn(LeastConn(servers: servers))
        case .first: state = .first(First(servers: servers))
        case .source: state = .source(SourceHash(servers: servers))
        case .random(let draws): state = .random(RandomDraws(servers: servers, draws: draws, seed: seed))
        case .consistentHash: state = .consistentHash(ConsistentHash(servers: servers))
        }
        refresh()
    }

    /// Picks a server for a new connection; `excluding` is a server index to
    /// avoid if any other is eligible (redispatch after a failed connect).
    ///
    /// `hashKey` is read by the hashing algorithms only, `source` and
    /// `consistentHash`: the hash of the client address (`sourceHash`) for
    /// `balance source`, or of the content key for `balance uri`,
    /// `url_param`, `hdr` and `hash` (`KeyHash.hash`, widened to 64 bits).
    /// `consistentHash` uses the low 32 bits. Pass nil when the request has
    /// no key (the `url_param` or header is absent, the `hash` sample is
    /// empty): a hashing algorithm then picks by smooth weighted round robin
    /// among the same eligible servers, as HAProxy falls back to round robin.
    /// The other algorithms ignore the key, nil or not.
    public mutating func pick(hashKey: UInt64?, excluding: Int? = nil) -> PickResult {
        let ex = excluding ?? -1
        // Round robin over one server: nothing to move or mutate.
        if case .roundRobin = state, let lone = RoundRobin.loneMemberPick(servers: servers, pool: pool, excluding: ex) {
            return lone
        }
        return pickByAlgorithm(hashKey: hashKey, excluding: ex)
    }

    /// `pick` by the algorithm's own state; out of line, so that the lone
    /// server's pick sets up no frame for it.
    @inline(never)
    private mutating func pickByAlgorithm(hashKey: UInt64?, excluding ex: Int) -> PickResult {
        // Each case moves the algorithm out of `state` before mutating it, so
        // its arrays stay uniquely referenced: mutating a copy bound by a
        // pattern while the enum still holds it would copy on write (allocate).
        switch state {
        case .roundRobin(var a):
            state = .moving
            let r = a.pick(servers: servers, pool: pool, hashKey: hashKey, excluding: ex)
            state = .roundRobin(a)
            return r
        case .staticRoundRobin(var a):
            state = .moving
            let r = a.pick(servers: servers, pool: pool, hashKey: hashKey, excluding: ex)
            state = .staticRoundRobin(a)
            return r
        case .leastConn(var a):
            state = .moving
            let r = a.pick(servers: servers, pool: pool, hashKey: hashKey, excluding: ex)
            state = .leastConn(a)
            return r
        case .first(var a):
            state = .moving
            let r = a.pick(servers: servers, pool: pool, hashKey: hashKey, excluding: ex)
            state = .first(a)
            return r
        case .source(var a):
            state = .moving
            let r = a.pick(servers: servers, pool: pool, hashKey: hashKey, excluding: ex)
            state = .source(a)
            return r
        case .random(var a):
            state = .moving
            let r = a.pick(servers: servers, pool: pool, hashKey: hashKey, excluding: ex)
            state = .random(a)
            return r
        case .consistentHash(var a):
            state = .moving
            let r = a.pick(servers: servers, pool: pool, hashKey: hashKey, excluding: ex)
            state = .consistentHash(a)
            return r
        case .moving:
            preconditionFailure("Balancer state re-entered")
        }
    }

    /// A connection to `server` was established (or is being attempted).
    public mutating func connectionOpened(server: Int) {
        servers[server].activeConnections += 1
    }

    /// A connection to `server` ended. Never goes below 0 (a debug build traps).
    public mutating func connectionClosed(server: Int) {
        let count = servers[server].activeConnections
        assert(count > 0, "connectionClosed without connectionOpened")
        if count > 0 { servers[server].activeConnections = count - 1 }
    }

    /// Sets the connection count of `server` as counted elsewhere (by every
    /// worker, in shared memory): `leastconn`, `random` and `maxconn` then
    /// see the global load. Never allocates.
    @inline(__always)
    public mutating func setActiveConnections(_ count: Int, server: Int) {
        servers[server].activeConnections = max(0, count)
    }

    /// Run-time `maxconn` change (CLI `set maxconn server`, `minconn`'s
    /// dynamic limit); 0: no limit.
    @inline(__always)
    public mutating func setMaxconn(_ maxconn: Int, server: Int) {
        servers[server].maxconn = max(0, maxconn)
    }

    /// Run-time weight change (CLI `set weight`, slow start), clamped to 0...256.
    ///
    /// `roundrobin`, `leastconn`, `random` and `first` take it at once (`first`
    /// only cares whether it is 0). `source` rebuilds its map, so clients may
    /// move (as in HAProxy with `hash-type map-based`). `consistentHash` adds
    /// or removes points of that server only, so only keys moving to or from
    /// it change server. `static-rr` is static
    /// as in HAProxy, where only 0% and 100% are accepted: a weight of 0 takes
    /// the server out, any other value puts it back at its configured weight,
    /// and `servers[server].weight` shows that effective value.
    public mutating func setWeight(_ weight: Int, server: Int) {
        var w = Balancer.clampWeight(weight)
        if case .staticRoundRobin = algorithm { w = w == 0 ? 0 : configuredWeights[server] }
        guard servers[server].weight != w else { return }
        servers[server].weight = w
        refresh()
    }

    /// Health or administrative state: an unusable server takes no traffic.
    public mutating func setUsable(_ usable: Bool, server: Int) {
        guard servers[server].isUsable != usable else { return }
        servers[server].isUsable = usable
        refresh()
    }

    /// Fixed-seed hash of a client address (4 or 16 bytes; any length works),
    /// identical in every process and across restarts: FNV-1a 64 over the
    /// bytes, then the MurmurHash3 64-bit finalizer. No random seeding, no
    /// `Hasher`.
    public static func sourceHash(_ address: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in address {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        return mix64(h)
    }

    static func clampWeight(_ w: Int) -> Int { min(max(w, 0), 256) }

    /// Recomputes the pool and lets the algorithm rebuild. Not the hot path.
    private mutating func refresh() {
        pool.recompute(servers: servers, allBackups: allBackups)
        switch state {
        case .roundRobin(var a):
            state = .moving; a.rebuild(servers: servers, pool: pool); state = .roundRobin(a)
        case .staticRoundRobin(var a):
            state = .moving; a.rebuild(servers: servers, pool: pool); state = .staticRoundRobin(a)
        case .leastConn(var a):
            state = .moving; a.rebuild(servers: servers, pool: pool); state = .leastConn(a)
        case .first(var a):
            state = .moving; a.rebuild(servers: servers, pool: pool); state = .first(a)
        case .source(var a):
            state = .moving; a.rebuild(servers: servers, pool: pool); state = .source(a)
        case .random(var a):
            state = .moving; a.rebuild(servers: servers, pool: pool); state = .random(a)
        case .consistentHash(var a):
            state = .moving; a.rebuild(servers: servers, pool: pool); state = .consistentHash(a)
        case .moving:
            preconditionFailure("Balancer state re-entered")
        }
    }
}

/// The closed set of algorithms; `Balancer` dispatches with a `switch`.
enum AlgorithmState: Sendable {
    case roundRobin(RoundRobin)
    case staticRoundRobin(StaticRoundRobin)
    case leastConn(LeastConn)
    case first(First)
    case source(SourceHash)
    case random(RandomDraws)
    case consistentHash(ConsistentHash)
    /// Only while an algorithm is moved out to be mutated in place.
    case moving
}

/// MurmurHash3's 64-bit finalizer: full avalanche, fixed, no seed.
@inline(__always)
func mix64(_ x: UInt64) -> UInt64 {
    var z = x
    z ^= z >> 33
    z = z &* 0xff51_afd7_ed55_8ccd
    z ^= z >> 33
    z = z &* 0xc4ce_b9fe_1a85_ec53
    z ^= z >> 33
    return z
}
