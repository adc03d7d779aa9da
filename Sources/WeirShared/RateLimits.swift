import Atomics

/// Events counted over a sliding second, as HAProxy's `freq_ctr`: the
/// events of the current one-second period, plus those of the period
/// before weighted by the part of it the sliding second still covers.
///
/// One 64-bit word holds it all, so that every worker changes it with one
/// compare-and-swap: the period's number (its low 22 bits: equal or one
/// apart is all that is asked of them), the previous period's count and the
/// current one's (21 bits each). A count stops at `countLimit`, so a
/// limit above it never binds, which no process reaches anyway.
enum SlidingSecond {
    static let countBits: UInt64 = 21
    static let countMask: UInt64 = (1 << countBits) - 1
    static let periodMask: UInt64 = (1 << 22) - 1
    static let countLimit = Int(countMask)

    /// The current and previous periods' counts as seen at `now` (ms).
    @inline(__always)
    static func counts(_ word: UInt64, now: Int64) -> (current: Int, previous: Int) {
        let period = UInt64(now / 1000) & periodMask
        let stored = word >> (2 * countBits)
        let current = Int(word & countMask), previous = Int((word >> countBits) & countMask)
        if stored == period { return (current, previous) }
        if (stored &+ 1) & periodMask == period { return (0, current) }
        return (0, 0)
    }

    @inline(__always)
    static func word(current: Int, previous: Int, now: Int64) -> UInt64 {
        (UInt64(now / 1000) & periodMask) << (2 * countBits) | UInt64(previous) << countBits | UInt64(current)
    }

    /// The number of events in the second before `now` (ms).
    static func count(_ word: UInt64, now: Int64) -> Int {
        let (current, previous) = counts(word, now: now)
        return current + previous * Int(1000 - now % 1000) / 1000
    }

    /// Milliseconds from `now` until the count falls below `limit` (at
    /// least 1), if no event comes meanwhile.
    static func delay(_ word: UInt64, limit: Int, now: Int64) -> Int64 {
        let (current, previous) = counts(word, now: now)
        let elapsed = Int(now % 1000)
        // previous * (1000 - m) / 1000 < budget first holds at this m.
        func firstMillisecond(weight: Int, budget: Int) -> Int {
            weight == 0 ? 0 : 1001 - (budget * 1000 + weight - 1) / weight
        }
        if current >= limit {
            // Not this period: in the next, `current` is the one weighed.
            return Int64(1000 - elapsed + max(0, firstMillisecond(weight: current, budget: limit)))
        }
        let wait = firstMillisecond(weight: previous, budget: limit - current) - elapsed
        return Int64(max(1, min(wait, 1000 - elapsed)))
    }
}

/// The per-second limits that cover every worker, in the shared segment:
/// `maxconnrate`, `maxsessrate`, `maxsslrate` (changed at run time by `set
/// rate-limit`), `rate-limit sessions` of each frontend, and the sliding
/// seconds they are checked against.
///
/// One count for all workers rather than the limit split between them:
/// SO_REUSEPORT spreads connections by a hash of their addresses, not
/// evenly, so a worker given 1/N of the limit would stop accepting while
/// the others still had room, and a limit smaller than the number of
/// workers could not be split at all. Each accept changes the shared word
/// with one compare-and-swap, and only where a limit is set.
public struct RateLimits: @unchecked Sendable {
    /// The process-wide counts.
    public enum Global: Int, Sendable {
        /// Every connection accepted (`maxconnrate`, `ConnRate`).
        case connections = 0
        /// Connections that `tcp-request connection` rules kept (`maxsessrate`).
        case sessions
        /// Sessions on `bind … ssl` lines, before their handshake (`maxsslrate`, `SslRate`).
        case sslSessions
    }

    /// Words: the three global limits, their sliding seconds, the highest
    /// `SslRate` seen; then, per frontend, its limit and its sliding second.
    static let globalWindows = 3
    static let sslMaximum = 6
    static let frontendBase = 8

    static func byteCount(frontends: Int) -> Int { (frontendBase + 2 * frontends) * 8 }

    let words: UnsafeMutablePointer<Int.AtomicRepresentation>

    init(base: UnsafeMutableRawPointer) {
        words = base.bindMemory(to: Int.AtomicRepresentation.self, capacity: RateLimits.frontendBase)
    }

    @inline(__always)
    func atomic(_ word: Int) -> UnsafeAtomic<Int> { UnsafeAtomic<Int>(at: words + word) }

    /// A sliding second, by the index `take`, `giveBack` and `delay` use.
    @inline(__always) public static func window(_ count: Global) -> Int { globalWindows + count.rawValue }
    @inline(__always) public static func frontendWindow(_ frontend: Int) -> Int { frontendBase + 2 * frontend + 1 }

    /// A global limit (0: none).
    public func limit(_ count: Global) -> Int { atomic(count.rawValue).load(ordering: .relaxed) }

    func setLimit(_ count: Global, _ value: Int) { atomic(count.rawValue).store(max(0, value), ordering: .relaxed) }

    /// A frontend's `rate-limit sessions` (0: none).
    public func frontendLimit(_ frontend: Int) -> Int { atomic(RateLimits.frontendBase + 2 * frontend).load(ordering: .relaxed) }

    func setFrontendLimit(_ frontend: Int, _ value: Int) {
        atomic(RateLimits.frontendBase + 2 * frontend).store(value, ordering: .relaxed)
    }

    /// Counts one event in `window` if the second before `now` holds fewer
    /// than `limit` (0: no limit); false, counting nothing, otherwise.
    /// Taking before the event, rather than counting after it, keeps
    /// workers accepting at once from going over the limit together.
    @inline(__always)
    public func take(_ window: Int, limit: Int, now: Int64) -> Bool {
        let word = atomic(window)
        var seen = word.load(ordering: .relaxed)
        while true {
            let old = UInt64(bitPattern: Int64(seen))
            let (current, previous) = SlidingSecond.counts(old, now: now)
            if limit > 0 && current + previous * Int(1000 - now % 1000) / 1000 >= limit { return false }
            let new = SlidingSecond.word(current: min(current + 1, SlidingSecond.countLimit), previous: previous, now: now)
            let (exchanged, original) = word.weakCompareExchange(expected: seen, desired: Int(Int64(bitPattern: new)),
                                                                 ordering: .relaxed)
            if exchanged {
                if window == RateLimits.window(.sslSessions) { raiseSSLMaximum(now: now) }
                return true
            }
            seen = original
        }
    }

    /// Takes back an event `take` counted for a connection that did not
    /// come (or did not become a session). Once the period has turned, the
    /// event stays counted in the previous one: a slight overestimate.
    public func giveBack(_ window: Int, now: Int64) {
        let word = atomic(window)
        var seen = word.load(ordering: .relaxed)
        while true {
            let old = UInt64(bitPattern: Int64(seen))
            guard old >> (2 * SlidingSecond.countBits) == UInt64(now / 1000) & SlidingSecond.periodMask else { return }
            let (current, previous) = SlidingSecond.counts(old, now: now)
            guard current > 0 else { return }
            let new = SlidingSecond.word(current: current - 1, previous: previous, now: now)
            let (exchanged, original) = word.weakCompareExchange(expected: seen, desired: Int(Int64(bitPattern: new)),
                                                                 ordering: .relaxed)
            if exchanged { return }
            seen = original
        }
    }

    /// Milliseconds until `window` takes an event again under `limit`.
    public func delay(_ window: Int, limit: Int, now: Int64) -> Int64 {
        SlidingSecond.delay(UInt64(bitPattern: Int64(atomic(window).load(ordering: .relaxed))), limit: limit, now: now)
    }

    /// Events in the second before `now`.
    public func rate(_ window: Int, now: Int64) -> Int {
        SlidingSecond.count(UInt64(bitPattern: Int64(atomic(window).load(ordering: .relaxed))), now: now)
    }

    /// The highest `SslRate` seen (`MaxSslRate`).
    public var sslMaximum: Int { atomic(RateLimits.sslMaximum).load(ordering: .relaxed) }

    /// `clear counters`.
    func clearSSLMaximum() { atomic(RateLimits.sslMaximum).store(0, ordering: .relaxed) }

    private func raiseSSLMaximum(now: Int64) {
        let rate = self.rate(RateLimits.window(.sslSessions), now: now)
        let maximum = atomic(RateLimits.sslMaximum)
        var seen = maximum.load(ordering: .relaxed)
        while rate > seen {
            let (exchanged, original) = maximum.weakCompareExchange(expected: seen, desired: rate, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }
}

extension SharedSegment {
    /// `set rate-limit connections|sessions|ssl-sessions global N`: workers
    /// see it at their next state refresh.
    public func setRateLimit(_ count: RateLimits.Global, _ value: Int) {
        guard let rateLimits else { return }
        rateLimits.setLimit(count, value)
        bumpStateVersion()
    }
}
