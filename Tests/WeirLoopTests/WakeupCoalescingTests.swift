import Testing
@testable import WeirLoop

/// The policy as a loop drives it: each tick begins at the loop's time, the
/// handler counts the connections its events came from (each keeps its own
/// stamp, as a session does), then the policy sees what the wait returned.
struct DrivenPolicy {
    var policy: WakeupCoalescing
    var stamps = [Int64](repeating: -1, count: 100)
    var now: Int64 = 1

    init(nap: Int = 30_000) { policy = WakeupCoalescing(napNanoseconds: nap) }

    var napping: Bool { policy.napping }

    /// A tick at `now` in which `connections` had events.
    mutating func tick(_ connections: Range<Int>, at now: Int64? = nil) {
        if let now { self.now = now }
        policy.beginTick(at: self.now)
        for i in connections { policy.countBusy(&stamps[i]) }
    }

    /// A wait that returned `events` events from `connections`.
    mutating func wait(_ events: Int, from connections: Range<Int>, at now: Int64? = nil) {
        tick(connections, at: now)
        policy.observeWait(events)
    }

    /// A nap that gathered `events` events from `connections`.
    mutating func nap(gathering events: Int, from connections: Range<Int>, at now: Int64? = nil) {
        tick(connections, at: now)
        policy.observeNap(gathered: events)
    }
}

@Suite struct WakeupCoalescingTests {
    /// `busy` connections had events in the first millisecond, then a wait
    /// returned `count` events from the first `count` of them.
    func policy(busy: Int, after count: Int, nap: Int = 30_000) -> DrivenPolicy {
        var d = DrivenPolicy(nap: nap)
        d.tick(0..<busy)
        d.wait(count, from: 0..<min(count, busy))
        return d
    }

    @Test func countsEachConnectionOncePerMillisecondOverTheLastTwo() {
        var d = DrivenPolicy()
        d.tick(0..<2, at: 10)
        d.tick(0..<1)
        #expect(d.policy.busyConnections == 2)
        #expect(d.policy.connectionsThisTick == 1, "once per tick as well")
        d.tick(0..<1, at: 11)
        #expect(d.policy.busyConnections == 2, "the millisecond before still counts")
        d.tick(0..<0, at: 12)
        #expect(d.policy.busyConnections == 1)
        d.tick(0..<0, at: 20)
        #expect(d.policy.busyConnections == 0, "after a gap nothing is busy")
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
        var d = policy(busy: 60, after: 3)
        for _ in 0..<100 {
            d.nap(gathering: 8, from: 0..<8)
            #expect(d.napping)
        }
    }

    /// Four naps that gather fewer than two events each.
    func thinNaps(_ d: inout DrivenPolicy) {
        for _ in 0..<4 {
            #expect(d.napping)
            d.nap(gathering: 1, from: 0..<1)
        }
    }

    /// `n` ordinary waits of ten events from ten connections.
    func waits(_ n: Int, _ d: inout DrivenPolicy) {
        for _ in 0..<n { d.wait(10, from: 0..<10) }
    }

    @Test func fourThinNapsInARowStopNappingForACoolDownThatGrows() {
        var d = policy(busy: 60, after: 3)
        d.nap(gathering: 0, from: 0..<0)
        d.nap(gathering: 1, from: 0..<1)
        d.nap(gathering: 1, from: 0..<1)
        d.nap(gathering: 5, from: 0..<5)
        #expect(d.napping, "a nap that pays starts the count again")
        thinNaps(&d)
        #expect(!d.napping)
        // 16 waits of cool-down, whatever they return.
        for _ in 0..<16 {
            waits(1, &d)
            #expect(!d.napping)
        }
        waits(1, &d)
        #expect(d.napping)
        // Stopping again doubles the cool-down.
        thinNaps(&d)
        waits(32, &d)
        #expect(!d.napping)
        waits(1, &d)
        #expect(d.napping)
        // A nap that pays resets it.
        d.nap(gathering: 5, from: 0..<5)
        thinNaps(&d)
        waits(17, &d)
        #expect(d.napping)
    }

    @Test func aNapLastsSixMicrosecondsPerBusyConnectionUpToTheConfiguredLength() {
        var d = DrivenPolicy(nap: 300_000)
        // A few connections, a short nap; never longer than tune.wakeup-coalesce.
        for (millisecond, busy, nap) in [(1, 8, 48_000), (2, 40, 240_000), (3, 100, 300_000)] {
            d.tick(0..<busy, at: Int64(millisecond))
            #expect(d.policy.napLength == nap, "\(busy) busy connections")
        }
    }

    @Test(arguments: [
        // bytes per event, nap at 50 busy connections
        (200, 300_000...300_000), (3_072, 300_000...300_000),
        (6_144, 74_000...76_000), (8_400, 39_000...41_000), (33_000, 2_000...3_000),
    ])
    func largeTransfersShortenTheNap(bytesPerEvent: Int, nap: ClosedRange<Int>) {
        var d = DrivenPolicy(nap: 300_000)
        // Milliseconds of 100 events from 50 connections moving these bytes:
        // the average follows within a few bytes.
        for millisecond in 1...40 {
            d.tick(0..<50, at: Int64(millisecond))
            d.policy.countBytes(100 * bytesPerEvent)
            d.policy.observeWait(100)
        }
        d.tick(0..<50, at: 41)
        #expect(nap.contains(d.policy.napLength), "\(d.policy.napLength) ns at \(d.policy.bytesPerEvent) bytes per event")
    }

    @Test func theBytesPerEventAreAnAverageNotTheLastMillisecond() {
        var d = DrivenPolicy(nap: 300_000)
        for millisecond in 1...40 {
            d.tick(0..<50, at: Int64(millisecond))
            d.policy.countBytes(100 * 200)
            d.policy.observeWait(100)
        }
        // One millisecond of 16 KiB responses among small ones.
        d.tick(0..<50, at: 41)
        d.policy.countBytes(100 * 8_400)
        d.policy.observeWait(100)
        d.tick(0..<50, at: 42)
        #expect(d.policy.napLength == 300_000)
    }

    @Test func aNapThatGathersEventsFromEveryBusyConnectionStopsNapping() {
        // Twelve busy connections, then only four: the nap collects all
        // four, so every one of them was waiting on this loop.
        var d = policy(busy: 12, after: 3)
        #expect(d.napping)
        d.nap(gathering: 4, from: 0..<4, at: 3)
        #expect(!d.napping)
    }

    @Test func aNapIsJudgedByTheConnectionsItGatheredNotByTheirEvents() {
        // 50 busy connections; the nap brings 60 events, from 40 of them
        // (client and server side of some): ten were being served elsewhere.
        var d = policy(busy: 50, after: 3)
        d.nap(gathering: 60, from: 0..<40)
        #expect(d.napping)
    }

    @Test func napsThatGatherMostButNotAllBusyConnectionsGoOn() {
        // In step with its peers: most connections wait on this loop while
        // the rest are being served elsewhere.
        var d = policy(busy: 50, after: 3)
        for _ in 0..<100 {
            d.nap(gathering: 41, from: 0..<41)
            #expect(d.napping)
        }
    }

    /// One millisecond at `now` with 50 busy connections and `events`
    /// events: one per wait while awake (never a batch), in naps of five
    /// from five connections while napping.
    func millisecond(_ now: Int64, events: Int, _ d: inout DrivenPolicy) {
        d.tick(0..<50, at: now)
        if d.napping {
            for _ in 0..<events / 5 { d.nap(gathering: 5, from: 0..<5) }
        } else {
            for _ in 0..<events { d.wait(1, from: 0..<1) }
        }
    }

    /// Sixteen awake milliseconds of 100 events, a batch that starts naps,
    /// then `count` milliseconds of napping with `events` each, `step` apart.
    func napping(for count: Int, events: Int, step: Int64 = 1) -> DrivenPolicy {
        var d = DrivenPolicy(nap: 200_000)
        for t in 1...16 { millisecond(Int64(t), events: 100, &d) }
        #expect(!d.napping)
        d.wait(3, from: 0..<3)
        #expect(d.napping)
        var t: Int64 = 17
        for _ in 0..<count {
            millisecond(t, events: events, &d)
            t += step
        }
        return d
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
        var d = policy(busy: 60, after: 3)
        for _ in 0..<20 {
            thinNaps(&d)
            var waits = 0
            while !d.napping {
                d.wait(10, from: 0..<10)
                waits += 1
            }
            #expect(waits <= 4097)
        }
    }
}
