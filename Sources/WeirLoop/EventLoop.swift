import Glibc
import WeirSystem

/// What the event loop calls back. The worker implements it; the loop is
/// generic over it, so every call is direct (no existential, no closure).
public protocol EventHandler: ~Copyable {
    /// An epoll event for `token` (a bitmask of `Epoll.readable`, …).
    mutating func handleEvent(_ token: Token, events: UInt32, loop: inout EventLoop)
    /// A timer pushed with `EventLoop.schedule` reached its deadline.
    mutating func handleTimer(_ token: Token, deadline: Int64, loop: inout EventLoop)
    /// After each tick's events and timers: deferred work (log flushes,
    /// resuming paused listeners, deciding to stop).
    mutating func endOfTick(loop: inout EventLoop)
}

/// One thread's epoll loop. Each tick runs fixed phases: wait for events
/// (bounded by the next timer), update the clock, dispatch the events, run
/// expired timers, then the handler's end-of-tick work.
public struct EventLoop: ~Copyable {
    public let epoll: Epoll
    private let events: UnsafeMutablePointer<EpollEvent>
    private let eventCapacity: Int32
    public var timers: TimerHeap
    /// Monotonic milliseconds, refreshed once per tick, after the wait (not
    /// per event).
    public private(set) var now: Int64
    /// Wall-clock milliseconds minus monotonic ones, read again at most once
    /// a second: `wallNow` costs no clock read.
    private var wallOffset: Int64
    private var wallOffsetExpiry: Int64
    private var running = false
    /// Whether to nap before waiting (see `WakeupCoalescing`); the handler
    /// counts its busy connections there.
    public var coalescing: WakeupCoalescing

    public init(eventCapacity: Int = 256, coalescing: WakeupCoalescing = WakeupCoalescing(napNanoseconds: 0)) throws(Errno) {
        self.coalescing = coalescing
        epoll = try Epoll()
        events = .allocate(capacity: eventCapacity)
        self.eventCapacity = Int32(eventCapacity)
        timers = TimerHeap()
        now = Clock.monotonicMilliseconds()
        wallOffset = Clock.wallMilliseconds() - now
        wallOffsetExpiry = now + 1000
    }

    /// Wall-clock milliseconds at `now`: the offset from the monotonic clock
    /// is read again each second, so a clock step shows within a second.
    public var wallNow: Int64 { now + wallOffset }

    deinit { events.deallocate() }

    /// Registers `fd` for `events` under `token`.
    public func register(_ fd: Int32, events: UInt32, token: Token) throws(Errno) {
        try epoll.add(fd, events: events, token: token.rawValue)
    }

    public func modify(_ fd: Int32, events: UInt32, token: Token) throws(Errno) {
        try epoll.modify(fd, events: events, token: token.rawValue)
    }

    public func deregister(_ fd: Int32) { epoll.remove(fd) }

    /// Calls `handleTimer(token…)` once `now` reaches `deadline`.
    @inline(__always)
    public mutating func schedule(_ token: Token, at deadline: Int64) {
        timers.push(deadline, token)
    }

    /// Ends `run` after the current tick.
    public mutating func stop() { running = false }

    /// Runs ticks until `stop()`.
    public mutating func run<Handler: EventHandler & ~Copyable>(_ handler: inout Handler) {
        running = true
        updateClock()
        while running {
            tick(&handler)
        }
    }

    /// One tick; public so tests can step the loop.
    /// The wait is bounded by the next deadline as seen from the clock
    /// read after the previous wait (as HAProxy's poller does): a timer is
    /// late by at most the time the previous tick took.
    public mutating func tick<Handler: EventHandler & ~Copyable>(_ handler: inout Handler, maximumWait: Int64 = 1000) {
        var wait = maximumWait
        if let next = timers.nextDeadline { wait = max(0, min(wait, next - now)) }
        var count: Int
        var napped = false
        if coalescing.napping && wait > 0 {
            count = epoll.wait(into: events, capacity: eventCapacity, timeoutMilliseconds: 0)
            if count == 0 {
                nap()
                napped = true
                count = epoll.wait(into: events, capacity: eventCapacity, timeoutMilliseconds: Int32(wait))
            }
        } else {
            count = epoll.wait(into: events, capacity: eventCapacity, timeoutMilliseconds: Int32(wait))
        }
        updateClock()
        coalescing.beginTick(at: now)
        for i in 0..<count {
            let event = events[i]
            handler.handleEvent(Token(rawValue: event.data.u64), events: event.events, loop: &self)
        }
        // Judged once the handler has counted the connections these events
        // came from.
        if napped { coalescing.observeNap(gathered: count) } else { coalescing.observeWait(count) }
        while let entry = timers.popExpired(now: now) {
            handler.handleTimer(entry.token, deadline: entry.deadline, loop: &self)
        }
        handler.endOfTick(loop: &self)
    }

    /// Sleeps `coalescing.napLength` without being woken by events.
    private func nap() {
        var duration = timespec(tv_sec: 0, tv_nsec: coalescing.napLength)
        // An interrupting signal is seen by the wait that follows.
        _ = clock_nanosleep(CLOCK_MONOTONIC, 0, &duration, nil)
    }

    @inline(__always)
    private mutating func updateClock() {
        now = Clock.monotonicMilliseconds()
        if now >= wallOffsetExpiry {
            wallOffset = Clock.wallMilliseconds() - now
            wallOffsetExpiry = now + 1000
        }
    }
}
