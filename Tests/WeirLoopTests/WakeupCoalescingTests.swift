import Testing
@testable import WeirLoop

@Suite struct WakeupCoalescingTests {
    /// A policy that counted `busy` connections in the current millisecond,
    /// then saw one wait of `count` events.
    func policy(busy: Int, after count: Int, nap: Int = 30_000) -> WakeupCoalescing {
        var c = WakeupCoalescing(napNanoseconds: nap)
        countBusy(busy, in: &c, at: 1)
        c.observeWait(count)
        return c
    }

    /// Counts `n` distinct connections at millisecond `now`.
    func countBusy(_ n: Int, in c: inout WakeupCoalescing, at now: Int64) {
        c.advance(to: now)
        for _ in 0..<n {
            var stamp: Int64 = -1
            c.countBusy(&stamp, now: now)
        }
    }

    @Test func countsEachConnectionOncePerMillisecondOverTheLastTwo() {
        var c = WakeupCoalescing(napNanoseconds: 30_000)
        var a: Int64 = -1, b: Int64 = -1
        c.advance(to: 10)
        c.countBusy(&a, now: 10)
        c.countBusy(&a, now: 10)
        c.countBusy(&b, now: 10)
        #expect(c.busyConnections == 2)
        c.advance(to: 11)
        #expect(c.busyConnections == 2, "the millisecond before still counts")
        c.countBusy(&a, now: 11)
        #expect(c.busyConnections == 2)
        c.advance(to: 12)
        #expect(c.busyConnections == 1)
        c.advance(to: 20)
        #expect(c.busyConnections == 0, "after a gap nothing is busy")
    }

    @Test func startsNappingOnlyWhenAWaitReturnsABatchFromAFewOfManyBusyConnections() {
        #expect(policy(busy: 50, after: 3).napping)
        #expect(policy(busy: 6, after: 2).napping)
        #expect(!policy(busy: 50, after: 1).napping, "one event per wake-up: thin traffic")
        #expect(!policy(busy: 5, after: 2).napping, "events from most of the busy connections")
        #expect(!policy(busy: 4, after: 4).napping)
        #expect(!policy(busy: 0, after: 3).napping)
        #expect(!policy(busy: 50, after: 3, nap: 0).napping, "turned off")
    }

    @Test func keepsNappingWhileNapsGatherBatches() {
        var c = policy(busy: 60, after: 3)
        for _ in 0..<100 {
            c.observeNap(gathered: 8)
            #expect(c.napping)
        }
    }

    /// Four naps that gather fewer than two events each.
    func thinNaps(_ c: inout WakeupCoalescing) {
        for _ in 0..<4 {
            #expect(c.napping)
            c.observeNap(gathered: 1)
        }
    }

    @Test func fourThinNapsInARowStopNappingForACoolDownThatGrows() {
        var c = policy(busy: 60, after: 3)
        c.observeNap(gathered: 0)
        c.observeNap(gathered: 1)
        c.observeNap(gathered: 1)
        c.observeNap(gathered: 5)
        #expect(c.napping, "a nap that pays starts the count again")
        thinNaps(&c)
        #expect(!c.napping)
        // 16 waits of cool-down, whatever they return.
        for _ in 0..<16 {
            c.observeWait(10)
            #expect(!c.napping)
        }
        c.observeWait(10)
        #expect(c.napping)
        // Stopping again doubles the cool-down.
        thinNaps(&c)
        for _ in 0..<32 { c.observeWait(10) }
        #expect(!c.napping)
        c.observeWait(10)
        #expect(c.napping)
        // A nap that pays resets it.
        c.observeNap(gathered: 5)
        thinNaps(&c)
        for _ in 0..<16 { c.observeWait(10) }
        c.observeWait(10)
        #expect(c.napping)
    }

    @Test func aNapLastsSixMicrosecondsPerBusyConnectionUpToTheConfiguredLength() {
        var c = WakeupCoalescing(napNanoseconds: 300_000)
        countBusy(8, in: &c, at: 1)
        #expect(c.napLength == 48_000, "a few connections: a short nap")
        countBusy(40, in: &c, at: 2)
        #expect(c.napLength == 240_000)
        countBusy(100, in: &c, at: 3)
        #expect(c.napLength == 300_000, "never longer than tune.wakeup-coalesce")
    }

    @Test func aNapThatGathersEventsFromEveryBusyConnectionStopsNapping() {
        // Twelve busy connections, then only four: the nap collects all
        // four, so every one of them was waiting on this loop.
        var c = policy(busy: 12, after: 3)
        #expect(c.napping)
        countBusy(4, in: &c, at: 3)
        c.observeNap(gathered: 4)
        #expect(!c.napping)
    }

    @Test func napsThatGatherMostButNotAllBusyConnectionsGoOn() {
        // In step with its peers: most connections wait on this loop while
        // the rest are being served elsewhere.
        var c = policy(busy: 50, after: 3)
        for _ in 0..<100 {
            c.observeNap(gathered: 41)
            #expect(c.napping)
        }
    }

    /// One millisecond at `now` with `busy` connections: `events` events,
    /// one per wait while awake (never a batch), in naps of five while napping.
    func millisecond(_ now: Int64, busy: Int, events: Int, in c: inout WakeupCoalescing) {
        countBusy(busy, in: &c, at: now)
        if c.napping {
            for _ in 0..<events / 5 { c.observeNap(gathered: 5) }
        } else {
            for _ in 0..<events { c.observeWait(1) }
        }
    }

    /// Sixteen awake milliseconds of 100 events, a batch that starts naps,
    /// then `count` milliseconds of napping with `events` each, `step` apart.
    func napping(for count: Int, events: Int, step: Int64 = 1) -> WakeupCoalescing {
        var c = WakeupCoalescing(napNanoseconds: 200_000)
        for t in 1...16 { millisecond(Int64(t), busy: 50, events: 100, in: &c) }
        #expect(!c.napping)
        c.observeWait(3)
        #expect(c.napping)
        var t: Int64 = 17
        for _ in 0..<count {
            millisecond(t, busy: 50, events: events, in: &c)
            t += step
        }
        return c
    }

    @Test func napsThatSlowTheWorkDownStop() {
        // A third of the events per millisecond: the naps hold clients up.
        #expect(napping(for: 1, events: 30).napping, "judged only after two milliseconds of napping")
        #expect(!napping(for: 2, events: 30).napping)
    }

    @Test func napsThatKeepUpTheWorkGoOn() {
        #expect(napping(for: 20, events: 100).napping)
    }

    @Test func aMillisecondThatEndsInALongWaitIsNoRateSample() {
        // Sparse milliseconds, each after a gap: idle time, not slow work.
        #expect(napping(for: 5, events: 10, step: 5).napping)
    }

    @Test func theCoolDownIsBounded() {
        var c = policy(busy: 60, after: 3)
        for _ in 0..<20 {
            thinNaps(&c)
            var waits = 0
            while !c.napping {
                c.observeWait(10)
                waits += 1
            }
            #expect(waits <= 4097)
        }
    }
}
