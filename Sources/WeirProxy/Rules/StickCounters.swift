// Stick counters (`track-sc0|1|2`, `sc-inc-gpc0|1`, `sc-set-gpt0`, and the
// `sc_*`, `scN_*`, `src_*`, `table_*` fetches):
//
// * a track action normalises its key into the session's tracker (one of
//   three per session) and counts a connection (conn_cnt, conn_cur,
//   conn_rate; sess_cnt and sess_rate too at `tcp-request connection`) and,
//   inside an HTTP request, that request, in the shared entry, which stays
//   while a session tracks it (`use`);
// * `tcp-request connection` trackers belong to the session; the others to
//   the exchange (HAProxy's stream), released when it ends;
// * each HTTP request of a session counts in every entry it tracks
//   (http_req_cnt, http_req_rate), a 4xx response as an error
//   (http_err_cnt, http_err_rate), and the bytes when the exchange (or a
//   mode tcp session) ends;
// * a tracker gives its entry up (conn_cur and use decrease) when released.
//
// The counters live in the shared stick tables, so all workers count
// together. A worker that dies leaves the conn_cur and use of its sessions'
// entries as they were: they stay until the entry expires or is cleared.
// Nothing here allocates.

import WeirConfig
import WeirShared
import WeirSystem

/// A compiled stick-counter action.
enum CompiledStickAction {
    case track(counter: Int, key: CompiledSample, table: Int)
    case increment(counter: Int, type: StickDataType)
    case setGPT0(counter: Int, value: Int64)
}

/// The key of one tracked entry.
struct StickTracker {
    var key = StickKeyBytes()
    /// Whether `tcp-request connection` tracked it: it lasts as long as the session.
    var sessionLevel = false

    var isTracking: Bool { key.table >= 0 }
}

/// Every session's three trackers, by slot, plus three for the connection
/// being accepted (`tcp-request connection` runs before there is a session).
struct StickTrackers: ~Copyable {
    static let perSession = 3
    /// Filled in by the worker once the shared segment is mapped.
    var tables: [StickTable] = []
    private var trackers: UnsafeMutablePointer<StickTracker>
    private var capacity: Int
    /// Whether any rule tracks: without, nothing is kept per session and
    /// ending an exchange or a session costs one test.
    let enabled: Bool

    /// `sessionCapacity` 0: no rule tracks.
    init(sessionCapacity: Int) {
        enabled = sessionCapacity > 0
        capacity = max(sessionCapacity, 1)
        let count = (capacity + 1) * Self.perSession
        trackers = .allocate(capacity: count)
        trackers.initialize(repeating: StickTracker(), count: count)
    }

    deinit { trackers.deallocate() }

    /// The trackers of `slot`; `.max`: the connection being accepted.
    /// Grows (allocating) only when the session slab did. Without `enabled`,
    /// every slot shares one set that never tracks.
    mutating func of(_ slot: UInt32) -> UnsafeMutablePointer<StickTracker> {
        guard enabled, slot != .max else { return trackers }
        if Int(slot) >= capacity {
            var grown = capacity * 2
            while grown <= Int(slot) { grown *= 2 }
            let count = (grown + 1) * Self.perSession
            let bigger = UnsafeMutablePointer<StickTracker>.allocate(capacity: count)
            bigger.initialize(repeating: StickTracker(), count: count)
            bigger.update(from: trackers, count: (capacity + 1) * Self.perSession)
            trackers.deallocate()
            trackers = bigger
            capacity = grown
        }
        return trackers + (Int(slot) + 1) * Self.perSession
    }

    /// Runs `body` on the counters of a tracker's entry; nil when it tracks nothing.
    func withEntry<R>(_ tracker: UnsafeMutablePointer<StickTracker>, create: Bool = false, touch: Bool = true,
                      now: Int64, _ body: (inout StickCounters) -> R) -> R? {
        let t = Int(tracker.pointee.key.table)
        guard t >= 0, t < tables.count else { return nil }
        let length = Int(tracker.pointee.key.length)
        return withUnsafeBytes(of: &tracker.pointee.key.bytes) { raw in
            tables[t].withCounters(UnsafeRawBufferPointer(rebasing: raw[0..<length]), create: create, touch: touch,
                                   now: now, body)
        }
    }

    /// Gives up what the trackers of `slot` hold (all of them, or only the
    /// exchange's), after counting the bytes and whether the response was an error.
    mutating func release(_ slot: UInt32, all: Bool, status: Int, bytesIn: Int64, bytesOut: Int64, now: Int64) {
        guard enabled else { return }
        let list = of(slot)
        for i in 0..<Self.perSession where list[i].isTracking {
            let ending = all || !list[i].sessionLevel
            _ = withEntry(list + i, now: now) { c in
                if (400...499).contains(status) {
                    c.add(.httpErrorCount, 1, now: now)
                    c.add(.httpErrorRate, 1, now: now)
                }
                c.add(.bytesInCount, bytesIn, now: now)
                c.add(.bytesOutCount, bytesOut, now: now)
                if ending {
                    c.use = max(0, c.use - 1)
                    c.add(.connCurrent, -1, now: now)
                }
            }
            if ending { list[i] = StickTracker() }
        }
    }

    /// The connection being accepted became the session in `slot`: its
    /// trackers move there, and count a session (sess_cnt, sess_rate).
    mutating func adoptAccepted(_ slot: UInt32) {
        guard enabled else { return }
        let pending = of(.max)
        guard pending[0].isTracking || pending[1].isTracking || pending[2].isTracking else { return }
        let list = of(slot)
        let moving = of(.max)
        let now = Clock.monotonicMilliseconds()
        for i in 0..<Self.perSession {
            list[i] = moving[i]
            moving[i] = StickTracker()
            _ = withEntry(list + i, now: now) { c in
                c.add(.sessionCount, 1, now: now)
                c.add(.sessionRate, 1, now: now)
            }
        }
    }
}

extension RuleEngine {
    /// Carries out a stick-counter action for the session being evaluated.
    mutating func stickAction(_ action: CompiledStickAction) {
        let now = Clock.monotonicMilliseconds()
        let list = stick.of(input.slot)
        switch action {
        case .track(let counter, let key, let table):
            // A counter already tracked stays as it is, as in HAProxy.
            guard !list[counter].isTracking, table >= 0, table < stick.tables.count else { return }
            let value = sampleValue(key)
            var tracker = StickTracker()
            let length = withUnsafeMutableBytes(of: &tracker.key.bytes) { raw in
                Worker.stickKey(value, table: stick.tables[table].info, into: raw)
            }
            guard let length else { return }
            tracker.key.length = Int16(length)
            tracker.key.table = Int16(table)
            tracker.sessionLevel = kind == .connection
            list[counter] = tracker
            let request = kind == .request
            let created: Void? = stick.withEntry(list + counter, create: true, now: now) { c in
                c.use += 1
                c.add(.connCount, 1, now: now)
                c.add(.connCurrent, 1, now: now)
                c.add(.connRate, 1, now: now)
                if request {
                    c.add(.httpRequestCount, 1, now: now)
                    c.add(.httpRequestRate, 1, now: now)
                }
            }
            // No room in the table: nothing is tracked.
            if created == nil { list[counter] = StickTracker() }
        case .increment(let counter, let type):
            _ = stick.withEntry(list + counter, now: now) { c in
                c.add(type, 1, now: now)
                if type == .gpc0 { c.add(.gpc0Rate, 1, now: now) }
            }
        case .setGPT0(let counter, let value):
            _ = stick.withEntry(list + counter, now: now) { c in c.set(.gpt0, value) }
        }
    }

    /// A new HTTP request on the session: it counts in every entry the
    /// session tracks. Without a tracking rule, that is a test, not a call.
    @inline(__always)
    mutating func countStickRequest(_ slot: UInt32) {
        guard stick.enabled else { return }
        countTrackedRequest(slot)
    }

    private mutating func countTrackedRequest(_ slot: UInt32) {
        let list = stick.of(slot)
        guard list[0].isTracking || list[1].isTracking || list[2].isTracking else { return }
        let now = Clock.monotonicMilliseconds()
        for i in 0..<StickTrackers.perSession where list[i].isTracking {
            _ = stick.withEntry(list + i, now: now) { c in
                c.add(.httpRequestCount, 1, now: now)
                c.add(.httpRequestRate, 1, now: now)
            }
        }
    }

    /// The value of a stick-counter fetch.
    mutating func stickFetch(_ fetch: StickFetch) -> SampleValue {
        let now = Clock.monotonicMilliseconds()
        switch fetch.entry {
        case .table:
            guard fetch.table >= 0, fetch.table < stick.tables.count else { return .none }
            let table = stick.tables[fetch.table]
            return .integer(Int64(fetch.query == .count ? table.used : max(0, table.info.size - table.used)))
        case .tracked(let n):
            let list = stick.of(input.slot)
            if fetch.query == .tracked { return .boolean(list[n].isTracking) }
            guard list[n].isTracking else { return .none }
            var tracker = list[n]
            if fetch.table >= 0 { tracker.key.table = Int16(fetch.table) }
            return withUnsafeMutablePointer(to: &tracker) { t in
                stick.withEntry(t, create: false, touch: false, now: now) { c in Self.query(fetch.query, &c, now: now) }
            } ?? .none
        case .source:
            guard fetch.table >= 0, fetch.table < stick.tables.count,
                  let ip = IPValue(input.peer) else { return .none }
            var tracker = StickTracker()
            let length = withUnsafeMutableBytes(of: &tracker.key.bytes) { raw in
                Worker.stickKey(.address(ip), table: stick.tables[fetch.table].info, into: raw)
            }
            guard let length else { return .none }
            tracker.key.length = Int16(length)
            tracker.key.table = Int16(fetch.table)
            let writes: Bool
            switch fetch.query {
            case .increment, .clear: writes = true
            default: writes = false
            }
            let found = withUnsafeMutablePointer(to: &tracker) { t in
                stick.withEntry(t, create: writes, touch: writes, now: now) { c in Self.query(fetch.query, &c, now: now) }
            }
            // An address not in the table reads as 0, as in HAProxy.
            return found ?? .integer(0)
        }
    }

    private static func query(_ query: StickFetch.Query, _ c: inout StickCounters, now: Int64) -> SampleValue {
        switch query {
        case .value(let type):
            guard let v = c.value(type, now: now) else { return .none }
            return .integer(v)
        case .increment(let type):
            guard c.stores(type) else { return .none }
            c.add(type, 1, now: now)
            if type == .gpc0 { c.add(.gpc0Rate, 1, now: now) }
            return .integer(c.value(type, now: now) ?? 0)
        case .clear(let type):
            guard let old = c.value(type, now: now) else { return .none }
            c.set(type, 0)
            return .integer(old)
        case .tracked, .count, .available:
            return .none
        }
    }
}

extension Worker {
    /// An HTTP exchange ended: its status and bytes count in the session's
    /// entries, and the trackers of its rules are released.
    mutating func endStickExchange(_ slot: UInt32) {
        guard rules.stick.enabled else { return }
        let e = sessions.pointer(slot).pointee.exchange
        rules.stick.release(slot, all: false, status: Int(e.status), bytesIn: Int64(e.clientRequestBytes),
                            bytesOut: Int64(e.responseBytes), now: Clock.monotonicMilliseconds())
    }

    /// A session ends: its exchange (if one is under way) or, in mode tcp,
    /// its bytes count; every tracker is released.
    mutating func endStickSession(_ slot: UInt32) {
        guard rules.stick.enabled else { return }
        let s = sessions.pointer(slot)
        if s.pointee.isHTTP {
            if s.pointee.exchange.started && !s.pointee.handshaking { endStickExchange(slot) }
            rules.stick.release(slot, all: true, status: 0, bytesIn: 0, bytesOut: 0, now: Clock.monotonicMilliseconds())
        } else {
            rules.stick.release(slot, all: true, status: 0, bytesIn: Int64(s.pointee.toServer.bytes),
                                bytesOut: Int64(s.pointee.toClient.bytes), now: Clock.monotonicMilliseconds())
        }
    }
}
