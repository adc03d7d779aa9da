import WeirLoop
import WeirShared

/// The per-second counts a listener's connections may be covered by, in
/// the order an accept takes its place in them.
enum RateCount: Int {
    /// `maxconnrate`: every connection.
    case connections
    /// `maxsessrate`: connections `tcp-request connection` rules keep.
    case sessions
    /// `maxsslrate` (and `SslRate`): the sessions of an `ssl` bind.
    case sslSessions
    /// The frontend's `rate-limit sessions`.
    case frontendSessions

    /// `first` up to (not including) `end`, by raw value: no array per
    /// accept, as `allCases` would build.
    static func span(from first: RateCount, before end: RateCount?) -> Range<Int> {
        first.rawValue..<(end ?? .frontendSessions).rawValue + (end == nil ? 1 : 0)
    }
}

// Rate limits, as HAProxy applies them: a listener whose count is full
// stops accepting (connections wait in the kernel's accept queue, none is
// refused) until the sliding second has room again. The counts are shared
// by every worker (`RateLimits`).
extension Worker {
    /// Reads the global limits (`set rate-limit` changes them) and marks
    /// the listeners some count covers: the only ones whose accepts pay for it.
    mutating func applyRateLimits() {
        guard let limits = stats.segment.rateLimits else { return }
        globalRateLimits = (limits.limit(.connections), limits.limit(.sessions), limits.limit(.sslSessions))
        let global = globalRateLimits.connections > 0 || globalRateLimits.sessions > 0
        for index in listeners.indices {
            listeners[index].rateCounted = global || listeners[index].tls != nil
                || frontends[listeners[index].frontend].sessionRateLimit > 0
        }
    }

    /// The sliding second and the limit (0: none) of `count` for a
    /// listener's connections; nil when that count does not cover them.
    private func rateWindow(_ count: RateCount, listener index: Int) -> (window: Int, limit: Int)? {
        switch count {
        case .connections:
            return globalRateLimits.connections > 0 ? (RateLimits.window(.connections), globalRateLimits.connections) : nil
        case .sessions:
            return globalRateLimits.sessions > 0 ? (RateLimits.window(.sessions), globalRateLimits.sessions) : nil
        case .sslSessions:
            return listeners[index].tls != nil ? (RateLimits.window(.sslSessions), globalRateLimits.sslSessions) : nil
        case .frontendSessions:
            let frontend = listeners[index].frontend
            let limit = frontends[frontend].sessionRateLimit
            return limit > 0 ? (RateLimits.frontendWindow(frontend), limit) : nil
        }
    }

    /// Takes the next connection's place in every count covering the
    /// listener. When one is full, gives back what it took, pauses the
    /// listener until that count has room, and returns false.
    mutating func takeRates(listener index: Int, loop: inout EventLoop) -> Bool {
        guard let limits = stats.segment.rateLimits else { return true }
        for raw in RateCount.span(from: .connections, before: nil) {
            let count = RateCount(rawValue: raw)!
            guard let (window, limit) = rateWindow(count, listener: index),
                  !limits.take(window, limit: limit, now: loop.now) else { continue }
            giveBackRates(listener: index, from: .connections, before: count, now: loop.now)
            if !listeners[index].waitingForRate {
                listeners[index].waitingForRate = true
                loop.schedule(Token(kind: TokenKind.rateResume.rawValue, slot: UInt32(index)),
                              at: loop.now + limits.delay(window, limit: limit, now: loop.now))
            }
            return false
        }
        return true
    }

    /// Gives back the places `takeRates` took, from `first` up to (not
    /// including) `end`: all of them when no connection came, those of a
    /// session when `tcp-request connection` rules dropped it.
    func giveBackRates(listener index: Int, from first: RateCount, before end: RateCount? = nil, now: Int64) {
        guard let limits = stats.segment.rateLimits else { return }
        for raw in RateCount.span(from: first, before: end) {
            if let (window, _) = rateWindow(RateCount(rawValue: raw)!, listener: index) { limits.giveBack(window, now: now) }
        }
    }

    /// The timer `takeRates` set: the listener may accept again (if it
    /// is still full, the next accept pauses it again).
    mutating func resumeAfterRateLimit(listener index: Int, loop: inout EventLoop) {
        guard index < listeners.count else { return }
        listeners[index].waitingForRate = false
        updateListeners(loop: &loop)
    }
}
