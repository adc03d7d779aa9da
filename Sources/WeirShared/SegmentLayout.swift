import WeirConfig

/// What a row of the statistics is about.
public enum EntityKind: String, Sendable, Hashable {
    case frontend = "F"
    case backend = "B"
    case server = "S"
}

/// One frontend, backend or server of the shared segment: what readers need
/// to name it without the configuration (the master reads segments of
/// generations whose configuration it no longer holds).
public struct SegmentEntity: Sendable, Hashable {
    public var kind: EntityKind
    /// The frontend's or backend's name; for a server, its backend's.
    public var proxy: String
    /// The server's name; empty for a frontend or backend.
    public var server: String
    /// HAProxy's `iid`: the proxy's number, shared by both halves of a `listen`.
    public var proxyID: Int
    /// HAProxy's `sid`: the server's `id`; 0 for a frontend or backend.
    public var serverID: Int
    public var isHTTP: Bool
    public var isBackup: Bool
    /// A server's address as configured; empty otherwise.
    public var address: String
    /// A `disabled` frontend: shown as `STOP`.
    public var isStopped: Bool
    /// `backend/server` a server names in `track`; empty otherwise.
    public var tracked: String
    /// A server's `maxqueue`, 0 for none.
    public var queueLimit: Int
    /// A server's `cookie` value, or a backend's cookie name; empty without.
    public var cookie: String
    /// A backend's `balance` algorithm, as HAProxy names it in `show stat`.
    public var algorithm: String
    /// A server's `rise` and `fall` when it has `check`; 0 without.
    public var checkRise: Int
    public var checkFall: Int
    /// The server has `agent-check`.
    public var hasAgent: Bool

    public init(kind: EntityKind, proxy: String, server: String = "", proxyID: Int, serverID: Int = 0,
                isHTTP: Bool, isBackup: Bool = false, address: String = "", isStopped: Bool = false,
                tracked: String = "", queueLimit: Int = 0, cookie: String = "", algorithm: String = "",
                checkRise: Int = 0, checkFall: Int = 0, hasAgent: Bool = false) {
        self.kind = kind
        self.proxy = proxy
        self.server = server
        self.proxyID = proxyID
        self.serverID = serverID
        self.isHTTP = isHTTP
        self.isBackup = isBackup
        self.address = address
        self.isStopped = isStopped
        self.tracked = tracked
        self.queueLimit = queueLimit
        self.cookie = cookie
        self.algorithm = algorithm
        self.checkRise = checkRise
        self.checkFall = checkFall
        self.hasAgent = hasAgent
    }

    /// The name that survives a reload: `proxy` for a frontend or backend, `proxy/server` for a server.
    public var key: String { kind.rawValue + " " + proxy + "/" + server }
}

/// Where each frontend, backend and server lives in the shared segment:
/// frontends first (configuration order), then backends, then the servers
/// of each backend in order. Built by whoever creates the segment from the
/// validated configuration, written into the segment, and read back by
/// every reader.
public struct SegmentLayout: Sendable, Equatable {
    public private(set) var entities: [SegmentEntity] = []
    public private(set) var frontendCount = 0
    public private(set) var backendCount = 0
    /// For each backend, the entity index of its first server.
    public private(set) var serverBase: [Int] = []
    /// For each backend, its number of servers.
    public private(set) var serverCount: [Int] = []
    /// For each server that another one names in `track`, the entities of
    /// the servers that do.
    public private(set) var trackers: [Int: [Int]] = [:]

    public init(_ configuration: Configuration) {
        // Proxy ids: those `id` sets, then the lowest free ones in file
        // order; a `listen` section's two halves share one.
        var proxies: [(location: SourceLocation, frontend: Int?, backend: Int?, id: Int?)] = []
        var owned = Set<Int>()
        for (index, frontend) in configuration.frontends.enumerated() {
            if let own = frontend.ownBackend { owned.insert(own) }
            proxies.append((frontend.location, index, frontend.ownBackend, frontend.id))
        }
        for (index, backend) in configuration.backends.enumerated() where !owned.contains(index) {
            proxies.append((backend.location, nil, index, backend.id))
        }
        proxies.sort { ($0.location.file, $0.location.line, $0.location.column) < ($1.location.file, $1.location.line, $1.location.column) }
        var frontendIDs = [Int](repeating: 0, count: configuration.frontends.count)
        var backendIDs = [Int](repeating: 0, count: configuration.backends.count)
        var taken = Set(proxies.compactMap(\.id))
        var next = 1
        for proxy in proxies {
            var id = proxy.id ?? 0
            if proxy.id == nil {
                while taken.contains(next) { next += 1 }
                id = next
                taken.insert(next)
            }
            if let f = proxy.frontend { frontendIDs[f] = id }
            if let b = proxy.backend { backendIDs[b] = id }
        }
        var entities: [SegmentEntity] = []
        for (index, frontend) in configuration.frontends.enumerated() {
            entities.append(SegmentEntity(kind: .frontend, proxy: frontend.name, proxyID: frontendIDs[index],
                                          isHTTP: frontend.mode == .http, isStopped: frontend.disabled))
        }
        for (index, backend) in configuration.backends.enumerated() {
            entities.append(SegmentEntity(kind: .backend, proxy: backend.name, proxyID: backendIDs[index],
                                          isHTTP: backend.mode == .http, cookie: backend.cookie?.name ?? "",
                                          algorithm: SegmentLayout.name(of: backend.balance)))
        }
        for (index, backend) in configuration.backends.enumerated() {
            for server in backend.servers {
                let tracked = server.track.map { track in
                    let other = configuration.backends[track.backend]
                    return "\(other.name)/\(other.servers[track.server].name)"
                }
                entities.append(SegmentEntity(kind: .server, proxy: backend.name, server: server.name,
                                              proxyID: backendIDs[index], serverID: server.id,
                                              isHTTP: backend.mode == .http, isBackup: server.backup,
                                              address: server.address.description, tracked: tracked ?? "",
                                              queueLimit: server.maxqueue, cookie: server.cookie ?? "",
                                              checkRise: server.check.enabled ? server.check.rise : 0,
                                              checkFall: server.check.enabled ? server.check.fall : 0,
                                              hasAgent: server.check.agent.enabled))
            }
        }
        self.init(entities: entities)!
    }

    /// Rebuilds the index from entities in segment order; nil if they are not
    /// frontends, then backends, then servers grouped by backend in order.
    public init?(entities: [SegmentEntity]) {
        self.entities = entities
        var index = 0
        while index < entities.count && entities[index].kind == .frontend { index += 1 }
        frontendCount = index
        var backendNames: [String] = []
        while index < entities.count && entities[index].kind == .backend {
            backendNames.append(entities[index].proxy)
            index += 1
        }
        backendCount = backendNames.count
        serverBase = []
        serverCount = []
        for name in backendNames {
            serverBase.append(index)
            var count = 0
            while index < entities.count && entities[index].kind == .server && entities[index].proxy == name {
                index += 1
                count += 1
            }
            serverCount.append(count)
        }
        guard index == entities.count else { return nil }
        var serverByName: [String: Int] = [:]
        for (i, e) in entities.enumerated() where e.kind == .server { serverByName[e.proxy + "/" + e.server] = i }
        for (i, e) in entities.enumerated() where !e.tracked.isEmpty {
            if let tracked = serverByName[e.tracked] { trackers[tracked, default: []].append(i) }
        }
    }

    @inline(__always) public func frontend(_ index: Int) -> Int { index }
    @inline(__always) public func backend(_ index: Int) -> Int { frontendCount + index }
    @inline(__always) public func server(backend: Int, _ index: Int) -> Int { serverBase[backend] + index }

    /// The backend index of a backend or server entity.
    public func backendIndex(of entity: Int) -> Int? {
        switch entities[entity].kind {
        case .frontend: return nil
        case .backend: return entity - frontendCount
        case .server: return serverBase.lastIndex { $0 <= entity }
        }
    }

    /// A backend's entity index by name.
    public func backend(named name: String) -> Int? {
        (0..<backendCount).first { entities[frontendCount + $0].proxy == name }
    }

    /// A server's entity index by backend and server name.
    public func server(backend: String, server: String) -> Int? {
        guard let b = (0..<backendCount).first(where: { entities[frontendCount + $0].proxy == backend }) else { return nil }
        return (0..<serverCount[b]).map { serverBase[b] + $0 }.first { entities[$0].server == server }
    }

    /// Entities in HAProxy's `show stat` order: proxies by id, each as its
    /// FRONTEND, then its servers, then its BACKEND.
    public var statOrder: [Int] {
        var byProxy: [Int: (frontend: Int?, backend: Int?)] = [:]
        for (index, entity) in entities.enumerated() {
            switch entity.kind {
            case .frontend: byProxy[entity.proxyID, default: (nil, nil)].frontend = index
            case .backend: byProxy[entity.proxyID, default: (nil, nil)].backend = index
            case .server: break
            }
        }
        var order: [Int] = []
        for id in byProxy.keys.sorted() {
            let proxy = byProxy[id]!
            if let f = proxy.frontend { order.append(f) }
            if let b = proxy.backend {
                let backend = b - frontendCount
                for s in 0..<serverCount[backend] { order.append(serverBase[backend] + s) }
                order.append(b)
            }
        }
        return order
    }

    /// One line per entity: kind, proxy, server, ids, mode, backup, address, stopped, tracked, queue limit, tab-separated.
    /// HAProxy's name of a `balance` algorithm (`algo` in `show stat`).
    static func name(of algorithm: BalanceAlgorithm) -> String {
        switch algorithm {
        case .roundRobin: "roundrobin"
        case .staticRoundRobin: "static-rr"
        case .leastConn: "leastconn"
        case .first: "first"
        case .source: "source"
        case .random: "random"
        case .uri: "uri"
        case .urlParam: "url_param"
        case .header: "hdr"
        case .hash: "hash"
        }
    }

    public func encoded() -> [UInt8] {
        var text = ""
        for e in entities {
            text += [e.kind.rawValue, e.proxy, e.server, String(e.proxyID), String(e.serverID), e.isHTTP ? "http" : "tcp",
                     e.isBackup ? "1" : "0", e.address, e.isStopped ? "1" : "0", e.tracked, String(e.queueLimit),
                     e.cookie, e.algorithm, String(e.checkRise), String(e.checkFall), e.hasAgent ? "1" : "0"]
                .joined(separator: "\t") + "\n"
        }
        return Array(text.utf8)
    }

    public static func decode(_ bytes: some Collection<UInt8>) -> SegmentLayout? {
        var entities: [SegmentEntity] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            // A segment of an earlier Weir (taken over across an upgrade)
            // may lack the `tracked` and queue limit fields, or the cookie,
            // algorithm and check settings.
            guard f.count == 9 || f.count == 11 || f.count == 16, let kind = EntityKind(rawValue: f[0]), let proxyID = Int(f[3]),
                  let serverID = Int(f[4]) else {
                return nil
            }
            entities.append(SegmentEntity(kind: kind, proxy: f[1], server: f[2], proxyID: proxyID, serverID: serverID,
                                          isHTTP: f[5] == "http", isBackup: f[6] == "1", address: f[7],
                                          isStopped: f[8] == "1", tracked: f.count > 9 ? f[9] : "",
                                          queueLimit: f.count > 10 ? Int(f[10]) ?? 0 : 0,
                                          cookie: f.count > 11 ? f[11] : "", algorithm: f.count > 12 ? f[12] : "",
                                          checkRise: f.count > 13 ? Int(f[13]) ?? 0 : 0,
                                          checkFall: f.count > 14 ? Int(f[14]) ?? 0 : 0,
                                          hasAgent: f.count > 15 && f[15] == "1"))
        }
        return SegmentLayout(entities: entities)
    }
}
