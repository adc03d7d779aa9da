import Testing
import WeirConfig
import WeirShared
import WeirSystem

@Suite struct RateSamplerTests {
    @Test func ratesArePerSecondOverTheLastIntervalWithTheirMaxima() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(twoProxies), slots: 2)
        defer { Posix.close(fd) }
        let fe = segment.layout.frontend(0)
        let words0 = segment.counters(slot: 0) + fe * Counter.stride, words1 = segment.counters(slot: 1) + fe * Counter.stride
        let view = StatsView(current: segment)
        func csv(_ name: String) -> String { StatsCSV.value(named: name, view.row(fe, now: 0), now: 0) }
        var sampler = RateSampler()
        sampler.tick(view, now: 10_000)
        #expect(csv("rate") == "0" && csv("rate_max") == "0")
        // Two workers: 3 + 2 sessions, 8 requests, 4 connections in the second.
        words0[Counter.sessionsTotal.rawValue] = 3
        words1[Counter.sessionsTotal.rawValue] = 2
        words0[Counter.requestsTotal.rawValue] = 8
        words1[Counter.connectionsTotal.rawValue] = 4
        sampler.tick(view, now: 11_000)
        #expect(csv("rate") == "5" && csv("req_rate") == "8" && csv("conn_rate") == "4")
        // Half a second later, 2 more sessions: counted over a second, not
        // doubled; the maxima stay.
        words0[Counter.sessionsTotal.rawValue] = 5
        sampler.tick(view, now: 11_500)
        #expect(csv("rate") == "2" && csv("rate_max") == "5" && csv("req_rate") == "0" && csv("req_rate_max") == "8")
        #expect(StatsCommands.run("clear counters", view: view, process: StatsProcessInfo(
            pid: 1, workers: 2, startedWall: 0, version: "t", maxconn: 0, fileLimit: 0, listeners: 1, stopping: false),
                                  level: .admin) == "")
        #expect(csv("rate_max") == "2" && csv("req_rate_max") == "0" && csv("conn_rate_max") == "0")
        // `clear counters all` makes the totals go down: no negative rate.
        segment.clearCounters()
        sampler.tick(view, now: 12_500)
        #expect(csv("rate") == "0" && csv("rate_max") == "0")
        // Another generation's segment starts over: its first tick only records.
        let (fd2, next) = try SharedSegment.create(configuration: parsed(twoProxies), slots: 1)
        defer { Posix.close(fd2) }
        (next.counters(slot: 0) + fe * Counter.stride)[Counter.sessionsTotal.rawValue] = 50
        sampler.tick(StatsView(current: next), now: 13_500)
        #expect(next.rates(fe) == SharedSegment.Rates())
    }
}
