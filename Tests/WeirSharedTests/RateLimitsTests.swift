import Glibc
import Testing
import WeirConfig
import WeirShared
import WeirSystem

@Suite("Per-second limits over every worker (RateLimits)")
struct RateLimitsTests {
    let config = """
        global
            maxconnrate 3
            maxsslrate 7
        defaults
            timeout client 1s
            timeout connect 1s
            timeout server 1s
        frontend limited
            rate-limit sessions 2
            bind 127.0.0.1:8000
            default_backend be
        frontend open
            bind 127.0.0.1:8001
            default_backend be
        backend be
            server s1 127.0.0.1:9000
        """

    @Test("the limits come from the configuration, and a second mapping shares the counts")
    func sharedBetweenMappings() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(config), slots: 2)
        defer { Posix.close(fd) }
        let other = try #require(SharedSegment.attach(fd))
        let mine = try #require(segment.rateLimits), theirs = try #require(other.rateLimits)
        #expect(theirs.limit(.connections) == 3 && theirs.limit(.sessions) == 0 && theirs.limit(.sslSessions) == 7)
        #expect(theirs.frontendLimit(0) == 2 && theirs.frontendLimit(1) == 0)
        let window = RateLimits.window(.connections)
        let now: Int64 = 5_000_100
        #expect(mine.take(window, limit: 3, now: now) && theirs.take(window, limit: 3, now: now))
        #expect(mine.take(window, limit: 3, now: now))
        #expect(!theirs.take(window, limit: 3, now: now), "three taken between the two mappings")
        #expect(mine.rate(window, now: now) == 3)
        mine.giveBack(window, now: now)
        #expect(theirs.take(window, limit: 3, now: now), "given back, taken again")
        // The frontends' windows are their own.
        #expect(mine.take(RateLimits.frontendWindow(0), limit: 2, now: now))
        #expect(mine.rate(RateLimits.frontendWindow(1), now: now) == 0)
        let version = other.stateVersion
        segment.setRateLimit(.sessions, 10)
        #expect(theirs.limit(.sessions) == 10 && other.stateVersion != version)
    }

    @Test("the second slides: the previous period weighs what it still covers, and the delay says when room comes")
    func slidingSecond() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(config), slots: 1)
        defer { Posix.close(fd) }
        let limits = try #require(segment.rateLimits)
        let window = RateLimits.window(.sessions)
        let start: Int64 = 7_000_900
        for _ in 0..<5 { #expect(limits.take(window, limit: 5, now: start)) }
        #expect(!limits.take(window, limit: 5, now: start))
        // Room comes 1 ms into the next period, when 5 * 999/1000 rounds to 4.
        #expect(limits.delay(window, limit: 5, now: start) == 101)
        #expect(!limits.take(window, limit: 5, now: 7_001_000))
        #expect(limits.take(window, limit: 5, now: 7_001_001))
        // 1 now plus 5 * 999/1000: full until the previous period weighs 3.
        #expect(limits.rate(window, now: 7_001_001) == 5)
        #expect(!limits.take(window, limit: 5, now: 7_001_001))
        #expect(limits.delay(window, limit: 5, now: 7_001_001) == 200)
        #expect(!limits.take(window, limit: 5, now: 7_001_200))
        #expect(limits.take(window, limit: 5, now: 7_001_201))
        // Two periods later nothing is left; 0 is no limit, still counted.
        #expect(limits.rate(window, now: 7_003_000) == 0)
        for _ in 0..<20 { #expect(limits.take(window, limit: 0, now: 7_003_000)) }
        #expect(limits.rate(window, now: 7_003_000) == 20)
        // A give-back after the period turned changes nothing.
        limits.giveBack(window, now: 7_004_000)
        #expect(limits.rate(window, now: 7_004_000) == 20)
    }

    @Test("MaxSslRate follows the ssl sessions' count, and clear counters restarts it")
    func sslMaximum() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(config), slots: 1)
        defer { Posix.close(fd) }
        let limits = try #require(segment.rateLimits)
        for _ in 0..<4 { #expect(limits.take(RateLimits.window(.sslSessions), limit: 7, now: 9_000_500)) }
        #expect(limits.sslMaximum == 4)
        segment.clearMaxima()
        #expect(limits.sslMaximum == 0)
    }

    @Test("show info, show stat and the exporter give the limits; set rate-limit changes them")
    func reports() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(config), slots: 1)
        defer { Posix.close(fd) }
        let view = StatsView(current: segment)
        let process = StatsProcessInfo(pid: 42, workers: 1, startedWall: 1_000_000, version: "9.9.9", maxconn: 100,
                                       fileLimit: 1024, listeners: 2, stopping: false)
        #expect(segment.rateLimits?.take(RateLimits.window(.sslSessions), limit: 7, now: Clock.monotonicMilliseconds()) == true)
        var info = StatsCommands.run("show info", view: view, process: process, level: .admin)
        for line in ["ConnRateLimit: 3", "SessRateLimit: 0", "SslRateLimit: 7", "SslRate: 1", "MaxSslRate: 1"] {
            #expect(info.contains("\n" + line + "\n"), "\(line) in \(info)")
        }
        let csv = StatsCommands.run("show stat", view: view, process: process, level: .admin)
        let header = csv.split(separator: "\n")[0].dropFirst(2).split(separator: ",", omittingEmptySubsequences: false)
        let column = try #require(header.firstIndex(of: "rate_lim"))
        let limits = csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .filter { $0[1] == "FRONTEND" }.map { "\($0[0])=\($0[column])" }
        #expect(limits == ["limited=2", "open=0"])
        let metrics = PrometheusExporter.render(view: view, process: process, now: 1_100).split(separator: "\n")
        #expect(metrics.contains("haproxy_frontend_limit_session_rate{proxy=\"limited\"} 2"))
        #expect(metrics.contains("haproxy_process_limit_connection_rate 3"))
        #expect(metrics.contains("haproxy_process_limit_ssl_rate 7"))
        #expect(StatsCommands.run("set rate-limit sessions global 9", view: view, process: process, level: .admin) == "")
        #expect(StatsCommands.run("set rate-limit sessions global 9", view: view, process: process, level: .operator)
                    == "Permission denied\n")
        #expect(StatsCommands.run("set rate-limit http-compression global 9", view: view, process: process, level: .admin)
                    .hasPrefix("'set rate-limit' supports :"))
        info = StatsCommands.run("show info", view: view, process: process, level: .admin)
        #expect(info.contains("\nSessRateLimit: 9\n"))
    }
}
