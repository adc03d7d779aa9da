import Atomics
import Glibc
import WeirConfig
import WeirSystem

/// One worker's own header in the shared segment. Each worker writes only its
/// own slot, with plain stores; the master reads them (for `show proc`).
public struct WorkerCounters {
    public var pid: Int64
    /// Sessions open right now.
    public var sessions: Int64
    /// Sessions accepted since the worker started.
    public var cumulated: Int64
    public var reserved: (Int64, Int64, Int64, Int64, Int64)
}

/// The counters each worker keeps per frontend, backend and server, one
/// 64-bit word each, written only by that worker with plain stores; readers
/// sum the workers' slots (`Combine` says how).
public enum Counter: Int, CaseIterable, Sendable {
    /// `stot`: sessions (a frontend's client connections, a backend's or
    /// server's sessions or HTTP exchanges).
    case sessionsTotal = 0
    /// `conn_tot`: connections a frontend accepted.
    case connectionsTotal
    /// `lbtot`: times a server was chosen.
    case lbTotal
    /// `req_tot`: HTTP requests.
    case requestsTotal
    case bytesIn
    case bytesOut
    case deniedRequests
    case deniedResponses
    case deniedConnections
    case requestErrors
    case connectionErrors
    case responseErrors
    case retries
    case redispatches
    case http1xx, http2xx, http3xx, http4xx, http5xx, httpOther
    /// A backend's sessions waiting in this worker's queue, and the most seen.
    case queueCurrent
    case queueMax
    /// Wall-clock seconds of the last session (`lastsess`).
    case lastSession
    case clientAborts
    case serverAborts
    /// Sums of milliseconds and how many sessions they cover, for the
    /// `qtime`, `ctime`, `rtime`, `ttime` averages.
    case queueTimeSum, connectTimeSum, responseTimeSum, totalTimeSum
    case timedCount, connectCount, responseCount
    /// `intercepted`: requests answered by the proxy itself.
    case intercepted
    /// Sessions this worker has open on the entity: its share of the shared
    /// `current` count, taken back if the worker dies.
    case openHere
    /// HAProxy's `ssl` stats module, per frontend: TLS handshakes completed
    /// (`ssl_sess`), of which resumed (`ssl_reused_sess`), and failed
    /// (`ssl_failed_handshake`: refused, or closed by the client, not timed out).
    case sslSessions
    case sslReusedSessions
    case sslFailedHandshakes
    /// HTTP compression, per frontend and backend: body bytes given to the
    /// encoder (`comp_in`), bytes it produced (`comp_out`), and responses
    /// compressed (`comp_rsp`). Nothing bypasses the encoder once it is
    /// chosen (Weir has no rate or CPU limit), so `comp_byp` stays 0.
    case compressionIn
    case compressionOut
    case compressedResponses

    /// Words per entity in a slot: room for fields added later without
    /// changing the layout's shape.
    public static let stride = 40

    public enum Combine: Sendable { case sum, max, gauge }

    /// `.sum`: summed and carried over a reload; `.max`: the largest slot;
    /// `.gauge`: summed, not carried (it describes the present).
    public var combine: Combine {
        switch self {
        case .queueMax, .lastSession: return .max
        case .queueCurrent, .openHere: return .gauge
        default: return .sum
        }
    }

    /// HTTP status class counter for `status` (100...599, else other).
    @inline(__always)
    public static func statusClass(_ status: Int) -> Counter {
        switch status {
        case 100..<200: return .http1xx
        case 200..<300: return .http2xx
        case 300..<400: return .http3xx
        case 400..<500: return .http4xx
        case 500..<600: return .http5xx
        default: return .httpOther
        }
    }
}

/// A server's health slot in shared memory, as the checker sets it. Without checks it stays `noCheck`.
public enum HealthSlot: Int, Sendable {
    case noCheck = 0
    case up = 1
    case down = 2
    /// Up, but taking no new sessions from the balancer (`set server …
    /// health stopping`, `http-check disable-on-404`): HAProxy's NOLB.
    case stopping = 3
}

/// A server's administrative state (HAProxy's `SRV_ADMF_*`).
public struct AdminState: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// `set server … state maint`, `disable server`.
    public static let maint = AdminState(rawValue: 1)
    /// `set server … state drain`: no new sessions except persistent ones.
    public static let drain = AdminState(rawValue: 2)
    /// `disabled` in the configuration.
    public static let configMaint = AdminState(rawValue: 4)
    /// The server's name does not resolve (HAProxy's RMAINT): it has no address.
    public static let resolution = AdminState(rawValue: 8)
    /// The server it tracks is in maintenance, or drains (HAProxy's IMAINT, IDRAIN).
    public static let inheritedMaint = AdminState(rawValue: 16)
    public static let inheritedDrain = AdminState(rawValue: 32)

    public var inMaintenance: Bool { !isDisjoint(with: [.maint, .configMaint, .resolution, .inheritedMaint]) }
    public var isDraining: Bool { !isDisjoint(with: [.drain, .inheritedDrain]) }
}

/// The administrative states the runtime API (`set server … state`) and a
/// server's agent may ask for.
public enum RequestedAdminState: String, Sendable, Hashable {
    case ready, drain, maint

    /// `admin` once this request is applied: `ready` leaves drain and
    /// maintenance, each of the others replaces the other.
    public func applied(to admin: AdminState) -> AdminState {
        var admin = admin
        switch self {
        case .ready: admin.subtract([.maint, .drain])
        case .drain:
            admin.remove(.maint)
            admin.insert(.drain)
        case .maint:
            admin.remove(.drain)
            admin.insert(.maint)
        }
        return admin
    }
}

/// The words every process may change, per entity: atomics on the mapping.
enum StateWord: Int {
    /// Sessions (connections, for a server) open right now, all workers.
    case current = 0
    case maximum
    case health
    case admin
    /// Effective (user) weight, 0...256.
    case weight
    /// Weight as configured, for `weight N%` and `show servers state`.
    case initialWeight
    /// Wall-clock seconds of the last health or admin change.
    case lastChange
    /// `maxconn` of a frontend or server, 0 for none.
    case maxconn
    /// Length of the check status text, then its bytes (32 at most).
    case checkStatusLength
    case checkStatus
    /// After the check status's 32 bytes: the per-second rates the master
    /// samples (`RateSampler`), each the rate in the low 32 bits and its
    /// maximum in the high 32: sessions, HTTP requests, connections.
    case sessionRate = 13
    case requestRate
    case connectionRate
    /// The agent check's last status (`L7OK`, `L4CON`, `CHECKED`…): up to
    /// 8 ASCII bytes in one word, 0 before any; then its duration in ms.
    case agentStatus
    case agentDuration
    /// The last check's and agent's results below (with the status texts
    /// and the agent's status and duration above) are written by the
    /// checks' host alone, under this sequence number: odd while a write
    /// is under way (a seqlock), so a reader never mixes two results.
    case resultSequence
    /// The last check's layer 5-7 code (`check_code`), its duration in ms
    /// (-1 before any), and the rise/fall counter (`check_health`).
    case checkCode
    case checkDuration
    case checkHealth
    /// The last check's output (`last_chk`): its length, then its bytes
    /// (64 at most); the same for the agent (`last_agt`).
    case checkInfoLength
    case checkInfo
    case agentHealth = 31
    case agentInfoLength
    case agentInfo
    /// Counters of the checks' host, carried over a reload: failed checks
    /// (`chkfail`), UP to DOWN transitions (`chkdown`), seconds spent DOWN
    /// before the present stay (`downtime`), and since when the server (or
    /// backend, for the last three) has been DOWN, 0 while it is not.
    case failedChecks = 41
    case downTransitions
    case downTime
    case downSince
    static let checkStatusBytes = 32
    static let infoWords = 8
    static let stride = 45
}

/// The shared-memory segment of one generation: a memfd the master (or a
/// `-d` process) creates and every worker of that generation maps.
///
/// Layout: a header; the layout text (`SegmentLayout`); per entity, the
/// shared state words (atomics: current connections, health, admin state,
/// weight); then counter slots: one per worker (its `WorkerCounters` and
/// `Counter.stride` words per entity), plus two that only the master
/// writes: `carried` (what earlier generations counted, and the offset that
/// `clear counters all` applies) and `handedOver` (what this generation had
/// counted when the next one took its counters over); then the stick
/// tables and their descriptions; then the TLS session-ticket keys and the
/// TLS session cache.
public struct SharedSegment: @unchecked Sendable {
    /// "WEIRSHM3", little-endian: a new number whenever the words change
    /// place (3: the checks' results and counters), so that a binary never
    /// reads another's segment with the wrong layout.
    static let magic: UInt64 = 0x3348_534D_5249_4557
    static let headerSize = 256
    static let workerHeaderSize = 64

    enum Header: Int {
        case magic = 0, slots, entities, layoutOffset, layoutLength, stateOffset, countersOffset, slotStride
        /// Bumped on every change of a server's health, admin state or weight.
        case stateVersion
        case createdWall
        case totalSize
        /// The stick tables' descriptions (`StickTableInfo` lines); 0 in
        /// segments laid out before stick tables.
        case tablesTextOffset
        case tablesTextLength
        /// The TLS session-ticket keys (`TicketKeyRing`); 0 in segments laid
        /// out before them.
        case ticketKeysOffset
        /// The TLS session cache and its size in entries (0: none).
        case sessionCacheOffset
        case sessionCacheSize
        /// The servers' run-time addresses (`ServerAddresses`); 0 in
        /// segments laid out before them.
        case addressesOffset
        /// The per-second limits (`RateLimits`); 0 in segments laid out
        /// before them.
        case rateLimitsOffset
    }

    public let memory: UnsafeMutableRawBufferPointer
    /// Worker slots.
    public let slots: Int
    public let layout: SegmentLayout
    let states: UnsafeMutablePointer<Int.AtomicRepresentation>
    let counterBase: UnsafeMutableRawPointer
    let slotStride: Int
    /// The stick tables, in `Configuration.stickTables` order.
    public let tables: [StickTable]
    /// The master's session-ticket keys; nil in a segment from before them.
    public let ticketKeys: TicketKeyRing?
    /// The session cache all workers share; nil when `tune.ssl.cachesize` is
    /// 0 or no `bind` has `ssl`.
    public let sessionCache: SessionCache?
    /// Every entity's run-time address record (servers only use theirs);
    /// nil in a segment from before them.
    public let addresses: ServerAddresses?
    /// The per-second limits and counts; nil in a segment from before them.
    public let rateLimits: RateLimits?

    /// The slot index of the master's carried-over counters.
    public var carriedSlot: Int { slots }
    /// The slot index of what this generation handed to its successor.
    public var handedOverSlot: Int { slots + 1 }

    /// Creates the segment of `configuration` for `slots` workers; returns
    /// its descriptor and mapping. Servers start as configured.
    public static func create(configuration: Configuration, slots: Int) throws(Errno) -> (fd: Int32, segment: SharedSegment) {
        let layout = SegmentLayout(configuration)
        let text = layout.encoded()
        let entities = layout.entities.count
        let layoutOffset = headerSize
        let stateOffset = (layoutOffset + text.count + 63) & ~63
        let countersOffset = stateOffset + entities * StateWord.stride * 8
        let slotStride = (workerHeaderSize + entities * Counter.stride * 8 + 63) & ~63
        var infos: [StickTableInfo] = []
        var tablesOffset = countersOffset + (slots + 2) * slotStride
        for table in configuration.stickTables {
            let spec = table.spec
            var info = StickTableInfo(name: table.name, type: spec.type, keyLength: spec.type.keyLength(spec.length),
                                      size: spec.size, expire: spec.expire ?? 0, noPurge: spec.noPurge,
                                      stores: spec.stores)
            info.offset = tablesOffset
            tablesOffset += (info.byteCount + 63) & ~63
            infos.append(info)
        }
        let tablesText = Array(infos.map { $0.encoded() + "\n" }.joined().utf8)
        let tablesTextOffset = tablesOffset
        let ticketKeysOffset = (tablesTextOffset + tablesText.count + 63) & ~63
        let sessionCacheOffset = ticketKeysOffset + TicketKeyRing.byteCount
        let usesTLS = configuration.frontends.contains { $0.binds.contains { $0.tls != nil } }
        let sessionCacheSize = usesTLS ? configuration.global.sslCacheSize : 0
        let addressesOffset = (sessionCacheOffset + (sessionCacheSize > 0 ? SessionCache.byteCount(size: sessionCacheSize) : 0)
            + 63) & ~63
        let rateLimitsOffset = (addressesOffset + entities * ServerAddresses.recordSize + 63) & ~63
        let total = rateLimitsOffset + RateLimits.byteCount(frontends: layout.frontendCount)
        let fd = try MemoryFile.create(name: "weir-shared", size: total)
        let memory: UnsafeMutableRawBufferPointer
        do { memory = try MemoryFile.map(fd) } catch {
            Posix.close(fd)
            throw error
        }
        func header(_ word: Header, _ value: Int) {
            memory.storeBytes(of: Int64(value), toByteOffset: word.rawValue * 8, as: Int64.self)
        }
        header(.slots, slots)
        header(.entities, entities)
        header(.layoutOffset, layoutOffset)
        header(.layoutLength, text.count)
        header(.stateOffset, stateOffset)
        header(.countersOffset, countersOffset)
        header(.slotStride, slotStride)
        header(.createdWall, Int(Clock.wallMilliseconds() / 1000))
        header(.totalSize, total)
        header(.tablesTextOffset, tablesTextOffset)
        header(.tablesTextLength, tablesText.count)
        header(.ticketKeysOffset, ticketKeysOffset)
        header(.sessionCacheOffset, sessionCacheOffset)
        header(.sessionCacheSize, sessionCacheSize)
        header(.addressesOffset, addressesOffset)
        header(.rateLimitsOffset, rateLimitsOffset)
        tablesText.withUnsafeBytes {
            if $0.count > 0 { memory.baseAddress!.advanced(by: tablesTextOffset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
        text.withUnsafeBytes { memory.baseAddress!.advanced(by: layoutOffset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        memory.storeBytes(of: magic, toByteOffset: 0, as: UInt64.self)
        let segment = SharedSegment(memory: memory, layout: layout, slots: slots)
        let now = Int(Clock.wallMilliseconds() / 1000)
        for (f, frontend) in configuration.frontends.enumerated() {
            segment.store(.maxconn, frontend.maxconn, layout.frontend(f))
            segment.rateLimits?.setFrontendLimit(f, frontend.sessionRateLimit)
        }
        segment.rateLimits?.setLimit(.connections, configuration.global.maxConnectionRate)
        segment.rateLimits?.setLimit(.sessions, configuration.global.maxSessionRate)
        segment.rateLimits?.setLimit(.sslSessions, configuration.global.maxSSLRate)
        for (b, backend) in configuration.backends.enumerated() {
            for (s, server) in backend.servers.enumerated() {
                let e = layout.server(backend: b, s)
                segment.store(.weight, server.weight, e)
                segment.store(.initialWeight, server.weight, e)
                segment.store(.maxconn, server.maxconn, e)
                segment.store(.admin, server.disabled ? AdminState.configMaint.rawValue : 0, e)
                segment.store(.lastChange, now, e)
                // Checks start UP, their counter at `rise`, as HAProxy's do.
                segment.store(.checkHealth, server.check.rise, e)
                segment.store(.agentHealth, 1, e)
            }
        }
        segment.passAdminStatesToTrackers()
        return (fd, segment)
    }

    /// Maps a segment received from the master or handed over across a
    /// re-exec; nil if it is not one.
    public static func attach(_ fd: Int32) -> SharedSegment? {
        guard let memory = try? MemoryFile.map(fd) else { return nil }
        guard memory.count >= headerSize, memory.load(fromByteOffset: 0, as: UInt64.self) == magic else {
            munmap(memory.baseAddress, memory.count)
            return nil
        }
        func header(_ word: Header) -> Int { Int(memory.load(fromByteOffset: word.rawValue * 8, as: Int64.self)) }
        let layoutOffset = header(.layoutOffset), layoutLength = header(.layoutLength)
        guard header(.totalSize) <= memory.count, layoutOffset >= headerSize, layoutLength >= 0,
              layoutOffset + layoutLength <= memory.count,
              let layout = SegmentLayout.decode(UnsafeRawBufferPointer(rebasing: memory[layoutOffset..<(layoutOffset + layoutLength)])),
              layout.entities.count == header(.entities), header(.slots) >= 0 else {
            munmap(memory.baseAddress, memory.count)
            return nil
        }
        return SharedSegment(memory: memory, layout: layout, slots: header(.slots))
    }

    private init(memory: UnsafeMutableRawBufferPointer, layout: SegmentLayout, slots: Int) {
        self.memory = memory
        self.layout = layout
        self.slots = slots
        let base = memory.baseAddress!
        let stateOffset = Int(memory.load(fromByteOffset: Header.stateOffset.rawValue * 8, as: Int64.self))
        let countersOffset = Int(memory.load(fromByteOffset: Header.countersOffset.rawValue * 8, as: Int64.self))
        slotStride = Int(memory.load(fromByteOffset: Header.slotStride.rawValue * 8, as: Int64.self))
        states = (base + stateOffset).bindMemory(to: Int.AtomicRepresentation.self,
                                                 capacity: layout.entities.count * StateWord.stride)
        counterBase = base + countersOffset
        var tables: [StickTable] = []
        let textOffset = Int(memory.load(fromByteOffset: Header.tablesTextOffset.rawValue * 8, as: Int64.self))
        let textLength = Int(memory.load(fromByteOffset: Header.tablesTextLength.rawValue * 8, as: Int64.self))
        if textOffset > 0, textLength > 0, textOffset + textLength <= memory.count {
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: memory[textOffset..<(textOffset + textLength)]),
                              as: UTF8.self)
            for line in text.split(separator: "\n") {
                guard let info = StickTableInfo.decode(line), info.offset >= 0,
                      info.offset + info.byteCount <= memory.count else { continue }
                tables.append(StickTable(info: info, base: base + info.offset))
            }
        }
        self.tables = tables
        func header(_ word: Header) -> Int { Int(memory.load(fromByteOffset: word.rawValue * 8, as: Int64.self)) }
        let keysOffset = header(.ticketKeysOffset)
        ticketKeys = keysOffset >= SharedSegment.headerSize && keysOffset + TicketKeyRing.byteCount <= memory.count
            ? TicketKeyRing(base: base + keysOffset) : nil
        let cacheOffset = header(.sessionCacheOffset), cacheSize = header(.sessionCacheSize)
        sessionCache = cacheSize > 0 && cacheOffset >= SharedSegment.headerSize
            && cacheOffset + SessionCache.byteCount(size: cacheSize) <= memory.count
            ? SessionCache(base: base + cacheOffset, size: cacheSize) : nil
        let addressesOffset = header(.addressesOffset)
        addresses = addressesOffset >= SharedSegment.headerSize
            && addressesOffset + layout.entities.count * ServerAddresses.recordSize <= memory.count
            ? ServerAddresses(base: base + addressesOffset) : nil
        let rateLimitsOffset = header(.rateLimitsOffset)
        rateLimits = rateLimitsOffset >= SharedSegment.headerSize
            && rateLimitsOffset + RateLimits.byteCount(frontends: layout.frontendCount) <= memory.count
            ? RateLimits(base: base + rateLimitsOffset) : nil
    }

    /// The stick table of the proxy named `name`.
    public func table(named name: String) -> StickTable? {
        tables.first { $0.info.name == name }
    }

    /// Unmaps the segment; the value must not be used afterwards.
    public func unmap() {
        munmap(memory.baseAddress, memory.count)
    }

    // MARK: - Counter slots

    /// Worker `slot`'s header.
    public func workerCounters(_ slot: Int) -> UnsafeMutablePointer<WorkerCounters> {
        precondition(slot >= 0 && slot < slots)
        return (counterBase + slot * slotStride).assumingMemoryBound(to: WorkerCounters.self)
    }

    /// The counters of `slot` (a worker, `carriedSlot` or `handedOverSlot`):
    /// `Counter.stride` words per entity, entity after entity.
    public func counters(slot: Int) -> UnsafeMutablePointer<Int64> {
        precondition(slot >= 0 && slot < slots + 2)
        return (counterBase + slot * slotStride + SharedSegment.workerHeaderSize).assumingMemoryBound(to: Int64.self)
    }

    /// What the workers (and earlier generations) counted for `entity`,
    /// combined as each counter says; `Counter.stride` values.
    public func totals(_ entity: Int) -> [Int64] {
        var totals = [Int64](repeating: 0, count: Counter.stride)
        for slot in 0...slots {
            let words = counters(slot: slot) + entity * Counter.stride
            for counter in Counter.allCases {
                let value = words[counter.rawValue]
                switch counter.combine {
                case .sum: totals[counter.rawValue] &+= value
                case .gauge: if slot < slots { totals[counter.rawValue] &+= value }
                case .max: totals[counter.rawValue] = max(totals[counter.rawValue], value)
                }
            }
        }
        return totals
    }

    /// What this generation counted since it handed its counters to the
    /// next one (its draining workers go on counting): the cumulative
    /// counters only.
    public func countedSinceHandOver(_ entity: Int) -> [Int64] {
        var totals = self.totals(entity)
        let handed = counters(slot: handedOverSlot) + entity * Counter.stride
        for counter in Counter.allCases {
            switch counter.combine {
            case .sum: totals[counter.rawValue] &-= handed[counter.rawValue]
            case .gauge, .max: break
            }
        }
        return totals
    }

    /// Adds cumulative counter values to `entity`'s carried slot (master only).
    public func carry(_ values: [Int64], into entity: Int) {
        let words = counters(slot: carriedSlot) + entity * Counter.stride
        for counter in Counter.allCases {
            switch counter.combine {
            case .sum: words[counter.rawValue] &+= values[counter.rawValue]
            case .max: words[counter.rawValue] = max(words[counter.rawValue], values[counter.rawValue])
            case .gauge: break
            }
        }
    }

    /// Takes over what `old` counted and the state of its servers, matched by
    /// name: counters add up, admin states (and weights set at run time, if
    /// the configured weight did not change) carry over, and so do stick
    /// tables, TLS ticket keys and cached TLS sessions. Marks in `old` what
    /// it handed over.
    public func takeOver(from old: SharedSegment) {
        var oldIndex: [String: Int] = [:]
        for (index, entity) in old.layout.entities.enumerated() { oldIndex[entity.key] = index }
        for (index, entity) in layout.entities.enumerated() {
            guard let o = oldIndex[entity.key] else { continue }
            carry(old.totals(o), into: index)
            store(.maximum, old.load(.maximum, o), index)
            for word in [StateWord.failedChecks, .downTransitions, .downTime, .downSince] {
                store(word, old.load(word, o), index)
            }
            guard entity.kind == .server else { continue }
            let runtime = AdminState(rawValue: old.load(.admin, o)).subtracting([.configMaint, .inheritedMaint, .inheritedDrain])
            let configured = AdminState(rawValue: load(.admin, index)).intersection(.configMaint)
            store(.admin, configured.union(runtime).rawValue, index)
            store(.health, old.load(.health, o), index)
            store(.lastChange, old.load(.lastChange, o), index)
            if old.load(.initialWeight, o) == load(.initialWeight, index) { store(.weight, old.load(.weight, o), index) }
            // The new checks start their rise/fall counters afresh.
            var check = old.checkRecord(o), agent = old.checkRecord(o, agent: true)
            check.health = load(.checkHealth, index)
            agent.health = load(.agentHealth, index)
            setCheckRecord(check, index)
            setCheckRecord(agent, agent: true, index)
            // An address set at run time (runtime API, DNS) outlives the
            // reload while the server is configured the same way.
            if entity.address == old.layout.entities[o].address, let previous = old.addresses?.load(o), previous.isSet,
               !previous.initial {
                addresses?.store(previous, index)
            }
        }
        old.markHandedOver()
        passAdminStatesToTrackers()
        let now = Clock.monotonicMilliseconds()
        for table in tables {
            if let previous = old.table(named: table.info.name), previous.info.type == table.info.type {
                table.takeOver(from: previous, now: now)
            }
        }
        // TLS tickets and cached sessions stay resumable across the reload.
        if let keys = ticketKeys, let previous = old.ticketKeys { keys.takeOver(from: previous) }
        if let cache = sessionCache, let previous = old.sessionCache { cache.takeOver(from: previous, now: now) }
        bumpStateVersion()
    }

    /// Records what this generation counted so far as handed over: from
    /// now on `countedSinceHandOver` is what it counts after.
    public func markHandedOver() {
        for entity in layout.entities.indices {
            let totals = self.totals(entity)
            let handed = counters(slot: handedOverSlot) + entity * Counter.stride
            for counter in Counter.allCases where counter.combine == .sum { handed[counter.rawValue] = totals[counter.rawValue] }
        }
    }

    /// A worker died: what it had open no longer is. Its share of every
    /// shared count is taken back and its gauges zeroed (master only, once
    /// the process is reaped).
    public func releaseWorker(_ slot: Int) {
        let words = counters(slot: slot)
        for entity in layout.entities.indices {
            let w = words + entity * Counter.stride
            let open = Int(w[Counter.openHere.rawValue])
            if open != 0 { atomic(.current, entity).wrappingDecrement(by: open, ordering: .relaxed) }
            for counter in Counter.allCases where counter.combine == .gauge { w[counter.rawValue] = 0 }
        }
        workerCounters(slot).pointee.sessions = 0
    }

    /// `clear counters all`: every cumulative counter of every entity reads
    /// 0 from now on. Workers never see a write to their slots: the carried
    /// slot takes the opposite of what they counted.
    public func clearCounters() {
        for entity in layout.entities.indices {
            let words = counters(slot: carriedSlot) + entity * Counter.stride
            for counter in Counter.allCases { words[counter.rawValue] = 0 }
            var sums = [Int64](repeating: 0, count: Counter.stride)
            for slot in 0..<slots {
                let w = counters(slot: slot) + entity * Counter.stride
                for counter in Counter.allCases where counter.combine == .sum { sums[counter.rawValue] &+= w[counter.rawValue] }
            }
            for counter in Counter.allCases where counter.combine == .sum { words[counter.rawValue] = 0 &- sums[counter.rawValue] }
            let handed = counters(slot: handedOverSlot) + entity * Counter.stride
            for counter in Counter.allCases { handed[counter.rawValue] = 0 }
            for word in [StateWord.sessionRate, .requestRate, .connectionRate] { store(word, 0, entity) }
            // HAProxy clears a server's check counters, not a backend's
            // `chkdown` nor anyone's downtime.
            if layout.entities[entity].kind == .server {
                store(.failedChecks, 0, entity)
                store(.downTransitions, 0, entity)
            }
        }
        clearMaxima()
    }

    /// An entity's per-second rates and their maxima (`rate`, `req_rate`,
    /// `conn_rate` and their `_max`).
    public struct Rates: Sendable, Hashable {
        public var session = 0, sessionMax = 0, request = 0, requestMax = 0, connection = 0, connectionMax = 0
        public init() {}
    }

    public func rates(_ entity: Int) -> Rates {
        func split(_ word: StateWord) -> (Int, Int) {
            let value = UInt64(bitPattern: Int64(load(word, entity)))
            return (Int(value & 0xffff_ffff), Int(value >> 32))
        }
        var rates = Rates()
        (rates.session, rates.sessionMax) = split(.sessionRate)
        (rates.request, rates.requestMax) = split(.requestRate)
        (rates.connection, rates.connectionMax) = split(.connectionRate)
        return rates
    }

    /// The rates of the last second (master only); the maxima follow.
    public func setRates(session: Int, request: Int, connection: Int, _ entity: Int) {
        func put(_ rate: Int, _ word: StateWord) {
            let r = UInt64(min(max(rate, 0), Int(UInt32.max)))
            let maximum = max(UInt64(bitPattern: Int64(load(word, entity))) >> 32, r)
            store(word, Int(Int64(bitPattern: maximum << 32 | r)), entity)
        }
        put(session, .sessionRate)
        put(request, .requestRate)
        put(connection, .connectionRate)
    }

    /// `clear counters`: the maximum values restart from the present.
    /// A worker keeps its own queue maximum in its slot: the one word it
    /// shares with the master, which sets it to the worker's queue length
    /// now (a worker's update racing with it may win, as in HAProxy,
    /// whose threads clear maxima without a lock).
    public func clearMaxima() {
        rateLimits?.clearSSLMaximum()
        for entity in layout.entities.indices {
            store(.maximum, load(.current, entity), entity)
            // The rates' maxima restart from the last second's rates.
            for word in [StateWord.sessionRate, .requestRate, .connectionRate] {
                let rate = load(word, entity) & 0xffff_ffff
                store(word, rate << 32 | rate, entity)
            }
            let words = counters(slot: carriedSlot) + entity * Counter.stride
            for counter in Counter.allCases where counter.combine == .max && counter != .lastSession { words[counter.rawValue] = 0 }
            for slot in 0..<slots {
                let worker = counters(slot: slot) + entity * Counter.stride
                worker[Counter.queueMax.rawValue] = worker[Counter.queueCurrent.rawValue]
            }
        }
    }

    // MARK: - Shared state (atomics)

    @inline(__always)
    func atomic(_ word: StateWord, _ entity: Int) -> UnsafeAtomic<Int> {
        UnsafeAtomic<Int>(at: states + entity * StateWord.stride + word.rawValue)
    }

    @inline(__always)
    func load(_ word: StateWord, _ entity: Int) -> Int { atomic(word, entity).load(ordering: .relaxed) }

    @inline(__always)
    func store(_ word: StateWord, _ value: Int, _ entity: Int) { atomic(word, entity).store(value, ordering: .relaxed) }

    /// The state version: any change of a server's health, admin state or
    /// weight bumps it, so workers refresh their balancers only then.
    @inline(__always)
    public var stateVersion: Int {
        UnsafeAtomic<Int>(at: UnsafeMutableRawPointer(memory.baseAddress! + Header.stateVersion.rawValue * 8)
            .assumingMemoryBound(to: Int.AtomicRepresentation.self)).load(ordering: .acquiring)
    }

    public func bumpStateVersion() {
        UnsafeAtomic<Int>(at: UnsafeMutableRawPointer(memory.baseAddress! + Header.stateVersion.rawValue * 8)
            .assumingMemoryBound(to: Int.AtomicRepresentation.self)).wrappingIncrement(ordering: .releasing)
    }

    /// Sessions (or server connections) open now, all workers.
    @inline(__always)
    public func current(_ entity: Int) -> Int { load(.current, entity) }

    public func maximum(_ entity: Int) -> Int { load(.maximum, entity) }

    /// One more session on `entity`; returns the count including it and
    /// raises the maximum.
    @inline(__always) @discardableResult
    public func open(_ entity: Int) -> Int {
        let now = atomic(.current, entity).wrappingIncrementThenLoad(ordering: .relaxed)
        let maximum = atomic(.maximum, entity)
        var seen = maximum.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = maximum.weakCompareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
        return now
    }

    /// One more connection to a server limited to `limit` (0: none), unless
    /// it is full; false when full (nothing changed).
    @inline(__always)
    public func open(_ entity: Int, limit: Int) -> Bool {
        guard limit > 0 else {
            open(entity)
            return true
        }
        let current = atomic(.current, entity)
        var seen = current.load(ordering: .relaxed)
        while seen < limit {
            let (exchanged, original) = current.weakCompareExchange(expected: seen, desired: seen + 1, ordering: .relaxed)
            if exchanged {
                let maximum = atomic(.maximum, entity)
                var m = maximum.load(ordering: .relaxed)
                while seen + 1 > m {
                    let (done, was) = maximum.weakCompareExchange(expected: m, desired: seen + 1, ordering: .relaxed)
                    if done { break }
                    m = was
                }
                return true
            }
            seen = original
        }
        return false
    }

    @inline(__always)
    public func close(_ entity: Int) {
        atomic(.current, entity).wrappingDecrement(ordering: .relaxed)
    }

    public func health(_ entity: Int) -> HealthSlot { HealthSlot(rawValue: load(.health, entity)) ?? .noCheck }
    public func admin(_ entity: Int) -> AdminState { AdminState(rawValue: load(.admin, entity)) }
    public func weight(_ entity: Int) -> Int { load(.weight, entity) }
    public func initialWeight(_ entity: Int) -> Int { load(.initialWeight, entity) }
    public func maxconn(_ entity: Int) -> Int { load(.maxconn, entity) }
    /// Wall-clock seconds of the last state change.
    public func lastChange(_ entity: Int) -> Int { load(.lastChange, entity) }
    public var createdWall: Int { Int(memory.load(fromByteOffset: Header.createdWall.rawValue * 8, as: Int64.self)) }

    /// Whether the server may take new sessions from the balancer: not in
    /// maintenance, not down or stopping, not draining.
    public func isUsable(_ entity: Int) -> Bool {
        let admin = self.admin(entity)
        let health = health(entity)
        return !admin.inMaintenance && !admin.isDraining && health != .down && health != .stopping
    }

    public func setHealth(_ health: HealthSlot, _ entity: Int) {
        guard load(.health, entity) != health.rawValue else { return }
        store(.health, health.rawValue, entity)
        store(.lastChange, Int(Clock.wallMilliseconds() / 1000), entity)
        bumpStateVersion()
    }

    public func setAdmin(_ admin: AdminState, _ entity: Int) {
        guard load(.admin, entity) != admin.rawValue else { return }
        store(.admin, admin.rawValue, entity)
        store(.lastChange, Int(Clock.wallMilliseconds() / 1000), entity)
        bumpStateVersion()
        passAdminToTrackers(of: entity)
    }

    /// As in HAProxy, a server in maintenance puts the servers that track
    /// it in maintenance too, and a draining one makes them drain; their
    /// own admin state is kept apart and comes back when it ends.
    func passAdminToTrackers(of entity: Int) {
        guard let trackers = layout.trackers[entity] else { return }
        let source = admin(entity)
        let inherited: AdminState = source.inMaintenance ? .inheritedMaint : source.isDraining ? .inheritedDrain : []
        for tracker in trackers {
            setAdmin(admin(tracker).subtracting([.inheritedMaint, .inheritedDrain]).union(inherited), tracker)
        }
    }

    /// Every tracked server's admin state passed on, once the segment is
    /// laid out (`disabled`) or has taken over the previous one's.
    func passAdminStatesToTrackers() {
        for entity in layout.trackers.keys { passAdminToTrackers(of: entity) }
    }

    public func setWeight(_ weight: Int, _ entity: Int) {
        let w = min(max(weight, 0), 256)
        guard load(.weight, entity) != w else { return }
        store(.weight, w, entity)
        bumpStateVersion()
    }

    /// `set maxconn server|frontend`: 0 for no limit.
    public func setMaxconn(_ maxconn: Int, _ entity: Int) {
        let m = max(0, maxconn)
        guard load(.maxconn, entity) != m else { return }
        store(.maxconn, m, entity)
        bumpStateVersion()
    }

    @inline(__always)
    func atomic(index: Int, _ entity: Int) -> UnsafeAtomic<Int> {
        UnsafeAtomic<Int>(at: states + entity * StateWord.stride + index)
    }

    /// Stores `text`'s first `words * 8` bytes, packed in the words from
    /// `first`, and their count in `length`.
    func storeText(_ text: String, length: StateWord, first: StateWord, words: Int, _ entity: Int) {
        let bytes = Array(text.utf8.prefix(words * 8))
        for w in 0..<words {
            var word: UInt64 = 0
            for i in 0..<8 where w * 8 + i < bytes.count { word |= UInt64(bytes[w * 8 + i]) << (8 * UInt64(i)) }
            atomic(index: first.rawValue + w, entity).store(Int(bitPattern: UInt(word)), ordering: .relaxed)
        }
        store(length, bytes.count, entity)
    }

    func loadText(length: StateWord, first: StateWord, words: Int, _ entity: Int) -> String {
        let count = min(max(load(length, entity), 0), words * 8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        for w in 0..<(count + 7) / 8 {
            let word = UInt64(UInt(bitPattern: atomic(index: first.rawValue + w, entity).load(ordering: .relaxed)))
            for i in 0..<min(8, count - w * 8) { bytes.append(UInt8(truncatingIfNeeded: word >> (8 * UInt64(i)))) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The last check's or agent check's result (`show stat`), as the
    /// checks' host records it.
    public struct CheckRecord: Sendable, Hashable {
        /// HAProxy's short status (`L7OK`, `L4CON`…), empty before any check.
        public var status = ""
        /// The layer 5-7 code (an HTTP status), nil when it had none.
        public var code: Int?
        /// Milliseconds the check took, nil before any.
        public var duration: Int?
        /// What it said (a reason phrase, an error, the agent's line).
        public var info = ""
        /// The rise/fall counter: 0 to rise + fall - 1.
        public var health = 0

        public init(status: String = "", code: Int? = nil, duration: Int? = nil, info: String = "", health: Int = 0) {
            self.status = status
            self.code = code
            self.duration = duration
            self.info = info
            self.health = health
        }
    }

    /// Records a check's (or with `agent`, the agent's) result (the
    /// checks' host only, the one writer).
    public func setCheckRecord(_ record: CheckRecord, agent: Bool = false, _ entity: Int) {
        let sequence = atomic(.resultSequence, entity)
        let before = sequence.load(ordering: .relaxed)
        sequence.store(before | 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        if agent {
            var word: UInt64 = 0
            for (i, byte) in record.status.utf8.prefix(8).enumerated() { word |= UInt64(byte) << (8 * UInt64(i)) }
            store(.agentStatus, Int(bitPattern: UInt(word)), entity)
            store(.agentDuration, record.duration ?? -1, entity)
            store(.agentHealth, record.health, entity)
            storeText(record.info, length: .agentInfoLength, first: .agentInfo, words: StateWord.infoWords, entity)
        } else {
            storeText(record.status, length: .checkStatusLength, first: .checkStatus,
                      words: StateWord.checkStatusBytes / 8, entity)
            store(.checkCode, record.code ?? -1, entity)
            store(.checkDuration, record.duration ?? -1, entity)
            store(.checkHealth, record.health, entity)
            storeText(record.info, length: .checkInfoLength, first: .checkInfo, words: StateWord.infoWords, entity)
        }
        sequence.store((before | 1) &+ 1, ordering: .releasing)
    }

    /// The check's (or with `agent`, the agent's) last result.
    public func checkRecord(_ entity: Int, agent: Bool = false) -> CheckRecord {
        func read() -> CheckRecord {
            if agent {
                var word = UInt64(UInt(bitPattern: load(.agentStatus, entity)))
                var bytes: [UInt8] = []
                while word != 0 {
                    bytes.append(UInt8(word & 0xFF))
                    word >>= 8
                }
                let duration = load(.agentDuration, entity)
                return CheckRecord(status: String(decoding: bytes, as: UTF8.self),
                                   duration: bytes.isEmpty || duration < 0 ? nil : duration,
                                   info: loadText(length: .agentInfoLength, first: .agentInfo,
                                                  words: StateWord.infoWords, entity),
                                   health: load(.agentHealth, entity))
            }
            let code = load(.checkCode, entity), duration = load(.checkDuration, entity)
            return CheckRecord(status: loadText(length: .checkStatusLength, first: .checkStatus,
                                                words: StateWord.checkStatusBytes / 8, entity),
                               code: code < 0 ? nil : code, duration: duration < 0 ? nil : duration,
                               info: loadText(length: .checkInfoLength, first: .checkInfo, words: StateWord.infoWords,
                                              entity),
                               health: load(.checkHealth, entity))
        }
        let sequence = atomic(.resultSequence, entity)
        // The writer holds the sequence odd for a few stores: a bounded spin.
        for _ in 0..<10_000 {
            let before = sequence.load(ordering: .acquiring)
            if before & 1 != 0 { continue }
            let record = read()
            atomicMemoryFence(ordering: .acquiring)
            if sequence.load(ordering: .relaxed) == before { return record }
        }
        return read()
    }

    /// `chkfail`: one more failed check (the checks' host only).
    public func countFailedCheck(_ entity: Int) {
        atomic(.failedChecks, entity).wrappingIncrement(ordering: .relaxed)
    }

    /// A server, or a backend (its last server gone), went DOWN at `now`
    /// (wall seconds): one more `chkdown`, and its downtime runs. Nothing
    /// when it already was.
    public func markDown(_ entity: Int, now: Int) {
        guard load(.downSince, entity) == 0 else { return }
        store(.downSince, max(now, 1), entity)
        atomic(.downTransitions, entity).wrappingIncrement(ordering: .relaxed)
    }

    /// It is back: its downtime stops and adds up.
    public func markUp(_ entity: Int, now: Int) {
        let since = load(.downSince, entity)
        guard since != 0 else { return }
        store(.downTime, load(.downTime, entity) + max(0, now - since), entity)
        store(.downSince, 0, entity)
    }

    /// `chkfail`, `chkdown` and `downtime` (seconds, the present stay
    /// included) of a server or backend.
    public func checkCounters(_ entity: Int, now: Int) -> (failed: Int, downs: Int, downtime: Int) {
        let since = load(.downSince, entity)
        return (load(.failedChecks, entity), load(.downTransitions, entity),
                load(.downTime, entity) + (since != 0 ? max(0, now - since) : 0))
    }
}

extension SharedSegment {
    /// Checked servers (by checks or an agent), and those that track one,
    /// start UP, as HAProxy's do, until a check says otherwise; a server
    /// already DOWN (no address) stays so.
    public func markCheckedServersUp(_ configuration: Configuration) {
        for (b, backend) in configuration.backends.enumerated() {
            for (i, server) in backend.servers.enumerated()
            where server.check.enabled || server.check.agent.enabled || server.track != nil {
                let entity = layout.server(backend: b, i)
                if health(entity) == .noCheck { setHealth(.up, entity) }
            }
        }
    }
}
