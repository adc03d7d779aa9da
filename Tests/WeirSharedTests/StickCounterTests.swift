import Glibc
import Testing
import WeirConfig
import WeirShared
import WeirSystem

@Suite struct FrequencyCounterTests {
    @Test func countsWithinAPeriod() {
        var c = FrequencyCounter()
        for t in [10_000, 10_100, 12_000] { c.add(1, now: Int64(t), period: 1000 * 10) }
        // Periods align on multiples of their length: this one began at 10000.
        #expect(c == FrequencyCounter(start: 10_000, current: 3, previous: 0))
        #expect(c.rate(now: 19_999, period: 10_000) == 3)
    }

    @Test func previousPeriodWeighsByWhatIsLeft() {
        var c = FrequencyCounter(start: 0, current: 10, previous: 0)
        // A quarter into the next period: 3/4 of the previous count, plus the current.
        #expect(c.rate(now: 1_250, period: 1_000) == 7)
        c.add(2, now: 1_250, period: 1_000)
        #expect(c == FrequencyCounter(start: 1_000, current: 2, previous: 10))
        #expect(c.rate(now: 1_250, period: 1_000) == 9)
        #expect(c.rate(now: 1_500, period: 1_000) == 7)
        #expect(c.rate(now: 1_999, period: 1_000) == 2)
        // The next period: the 2 are now the previous count, all of them at its start.
        #expect(c.rate(now: 2_000, period: 1_000) == 2)
        #expect(c.rate(now: 2_500, period: 1_000) == 1)
    }

    @Test func idlePeriodsForgetEverything() {
        var c = FrequencyCounter(start: 0, current: 10, previous: 4)
        #expect(c.rate(now: 2_000, period: 1_000) == 0)
        c.add(1, now: 5_300, period: 1_000)
        #expect(c == FrequencyCounter(start: 5_000, current: 1, previous: 0))
    }
}

@Suite struct StickCountersInTableTests {
    private func table(_ store: String) throws -> (Int32, SharedSegment) {
        let text = """
            defaults
             timeout client 1s
             timeout connect 1s
             timeout server 1s
            frontend fe
             bind 127.0.0.1:0
             stick-table type ip size 16 expire 10s store \(store)
             default_backend be
            backend be
             server s1 127.0.0.1:8001

            """
        return try SharedSegment.create(configuration: parsed(text), slots: 1)
    }

    private let key: [UInt8] = [127, 0, 0, 1]

    @Test func countersAndRatesLiveInTheEntry() throws {
        let (fd, segment) = try table("http_req_rate(10s),conn_cur,gpc0,http_req_cnt")
        defer { Posix.close(fd) }
        let t = try #require(segment.table(named: "fe"))
        #expect(t.info.stores.map(\.type) == [.gpc0, .connCurrent, .httpRequestCount, .httpRequestRate])
        #expect(key.withUnsafeBytes { t.withCounters($0, create: false, now: 1_000) { _ in 0 } } == nil)
        for n in 0..<5 {
            key.withUnsafeBytes { k in
                _ = t.withCounters(k, create: true, now: 1_000 + Int64(n)) { c in
                    c.add(.httpRequestCount, 1, now: 1_000 + Int64(n))
                    c.add(.httpRequestRate, 1, now: 1_000 + Int64(n))
                    c.add(.bytesInCount, 100, now: 1_000)  // not stored: ignored
                }
            }
        }
        let read = key.withUnsafeBytes { k in
            t.withCounters(k, create: false, touch: false, now: 2_000) { c in
                (c.value(.httpRequestCount, now: 2_000), c.value(.httpRequestRate, now: 2_000),
                 c.value(.bytesInCount, now: 2_000), c.value(.gpc0, now: 2_000))
            }
        }
        #expect(read?.0 == 5 && read?.1 == 5 && read?.2 == nil && read?.3 == 0)
        let entries = t.entries(now: 2_000)
        #expect(entries.count == 1 && entries[0].data == [0, 0, 5, 5])
        // A counter never goes below 0.
        key.withUnsafeBytes { k in _ = t.withCounters(k, create: false, now: 2_000) { c in c.add(.connCurrent, -1, now: 2_000) } }
        #expect(t.entries(now: 2_000)[0].data[1] == 0)
    }

    @Test func trackedEntriesStayAndReloadsKeepCounters() throws {
        let (fd, segment) = try table("gpc0,conn_cur")
        defer { Posix.close(fd) }
        let t = try #require(segment.table(named: "fe"))
        key.withUnsafeBytes { k in
            _ = t.withCounters(k, create: true, now: 1_000) { c in
                c.use += 1
                c.add(.gpc0, 3, now: 1_000)
            }
        }
        // In use: it outlives its expiry and `clear table`.
        #expect(t.entries(now: 60_000).count == 1)
        #expect(t.removeAll(now: 60_000) == 0)
        let (fd2, next) = try table("gpc0,conn_cur")
        defer { Posix.close(fd2) }
        let t2 = try #require(next.table(named: "fe"))
        t2.takeOver(from: t, now: 61_000)
        #expect(t2.entries(now: 61_000).map(\.data) == [[3, 0]])
        // Another store list: the entries move, not their counters.
        let (fd3, other) = try table("gpc0,conn_cur,gpc1")
        defer { Posix.close(fd3) }
        let t3 = try #require(other.table(named: "fe"))
        t3.takeOver(from: t, now: 61_000)
        #expect(t3.entries(now: 61_000).map(\.data) == [[0, 0, 0]])
    }
}
