import Testing
@testable import WeirHealth
import WeirConfig
import WeirLoop

/// The rise/fall state machine, driven with values (no sockets, no clock).
@Suite struct CheckStateTests {
    @Test func startsUpAndTheFirstFailureMarksDown() {
        var s = CheckState(rise: 2, fall: 3)
        #expect(s.isUp && s.health == 2 && s.isTransitioning)
        #expect(s.record(success: false) == .wentDown)
        #expect(!s.isUp && s.health == 0 && !s.isTransitioning)
    }

    @Test func fallConsecutiveFailuresFromFullHealth() {
        var s = CheckState(rise: 2, fall: 3)
        #expect(s.record(success: true) == .none)
        #expect(s.record(success: true) == .none)
        #expect(s.health == 4 && !s.isTransitioning)
        #expect(s.record(success: false) == .none)
        #expect(s.record(success: false) == .none)
        #expect(s.isUp && s.isTransitioning)
        #expect(s.record(success: false) == .wentDown)
    }

    @Test func aSuccessInBetweenRestoresOneStep() {
        var s = CheckState(rise: 2, fall: 3)
        _ = s.record(success: true)
        _ = s.record(success: true)
        _ = s.record(success: false)
        _ = s.record(success: false)
        #expect(s.record(success: true) == .none)
        #expect(s.record(success: false) == .none)
        #expect(s.record(success: false) == .wentDown)
    }

    @Test func riseConsecutiveSuccessesMarkUp() {
        var s = CheckState(rise: 3, fall: 2, startUp: false)
        #expect(s.record(success: true) == .none)
        #expect(s.record(success: true) == .none)
        #expect(s.isTransitioning)
        #expect(s.record(success: true) == .wentUp)
        #expect(s.isUp && s.health == 4 && !s.isTransitioning)
    }

    @Test func aFailureWhileRisingStartsAgain() {
        var s = CheckState(rise: 2, fall: 2, startUp: false)
        _ = s.record(success: true)
        #expect(s.record(success: false) == .none)
        #expect(s.health == 0)
        #expect(s.record(success: true) == .none)
        #expect(s.record(success: true) == .wentUp)
    }

    @Test func riseAndFallOfOne() {
        var s = CheckState(rise: 1, fall: 1)
        #expect(s.record(success: false) == .wentDown)
        #expect(s.record(success: true) == .wentUp)
        #expect(s.record(success: false) == .wentDown)
    }

    @Test func progressAsHAProxyShowsIt() {
        var s = CheckState(rise: 2, fall: 3)
        _ = s.record(success: true)
        _ = s.record(success: true)
        #expect(s.progress == (3, 3))
        _ = s.record(success: false)
        #expect(s.progress == (2, 3))
        var d = CheckState(rise: 2, fall: 3, startUp: false)
        _ = d.record(success: true)
        #expect(d.progress == (1, 2))
    }

    @Test func suddenDeathAndMarkDown() {
        var s = CheckState(rise: 2, fall: 3)
        _ = s.record(success: true)
        _ = s.record(success: true)
        s.suddenDeath()
        #expect(s.isUp)
        #expect(s.record(success: false) == .wentDown)
        var m = CheckState(rise: 2, fall: 3)
        #expect(m.markDown() == .wentDown)
        #expect(m.markDown() == .none)
    }

    @Test func slowStartWeights() {
        #expect(HealthChecker.rampWeight(100, elapsed: 0, slowstart: 10_000) == 1)
        #expect(HealthChecker.rampWeight(100, elapsed: 5000, slowstart: 10_000) == 50)
        #expect(HealthChecker.rampWeight(100, elapsed: 9999, slowstart: 10_000) == 100)
        #expect(HealthChecker.rampWeight(100, elapsed: 10_000, slowstart: 10_000) == 100)
        #expect(HealthChecker.rampWeight(0, elapsed: 10, slowstart: 10_000) == 0)
        #expect(HealthChecker.rampStep(1000) == 100)
        #expect(HealthChecker.rampStep(60_000) == 3000)
    }
}

/// Log lines, expectations and the check request.
@Suite struct CheckOutputTests {
    private func event(_ kind: CheckEvent.Kind, _ result: CheckResult?, active: Int, backup: Int,
                       isBackup: Bool = false) -> CheckEvent {
        CheckEvent(kind: kind, backend: 0, server: 0, state: ServerHealth(usable: kind != .wentDown, weight: 1),
                   result: result, backendName: "be", serverName: "s1", isBackup: isBackup,
                   activeLeft: active, backupLeft: backup)
    }

    @Test func downAndUpLines() {
        let refused = CheckResult(.layer4Connection, info: "Connection refused", duration: 0)
        #expect(event(.wentDown, refused, active: 2, backup: 0).logLine(sessions: 3)
                == "Server be/s1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms. "
                + "2 active and 0 backup servers left. 3 sessions active, 0 requeued, 0 remaining in queue.")
        let passed = CheckResult(.layer7OK, code: 200, info: nil, duration: 3)
        #expect(event(.wentUp, passed, active: 1, backup: 1).logLine()
                == "Server be/s1 is UP, reason: Layer7 check passed, code: 200, check duration: 3ms. "
                + "1 active and 1 backup servers online. 0 sessions requeued, 0 total in queue.")
        let timeout = CheckResult(.layer4Timeout, duration: 2001)
        let down = event(.wentDown, timeout, active: 0, backup: 1)
        #expect(down.logLine() == "Server be/s1 is DOWN, reason: Layer4 timeout, check duration: 2001ms. "
                + "0 active and 1 backup servers left. Running on backup. 0 sessions active, 0 requeued, 0 remaining in queue.")
        #expect(!down.backendHasNoServer)
        #expect(event(.wentDown, timeout, active: 0, backup: 0, isBackup: true).logLine()?.hasPrefix("Backup Server be/s1 is DOWN") == true)
        #expect(event(.wentDown, timeout, active: 0, backup: 0).backendHasNoServer)
        #expect(event(.weight, nil, active: 1, backup: 0).logLine() == nil)
    }

    @Test func expectations() {
        let string = Expectation(CheckExpect(kind: .string(Array("PONG".utf8)), pattern: "PONG"))
        #expect(string.found(in: Array("+PONG\r\n".utf8)))
        #expect(!string.found(in: Array("+PON".utf8)))
        let regex = Expectation(CheckExpect(kind: .regex("^role:(master|primary)$"), pattern: ""))
        #expect(!regex.found(in: Array("role:slave".utf8)))
        #expect(regex.found(in: Array("role:master".utf8)))
        let status = Expectation(CheckExpect(kind: .status([200...299, 304...304]), pattern: ""))
        #expect(status.statusMatches(204) && status.statusMatches(304) && !status.statusMatches(301))
        let rstatus = Expectation(CheckExpect(kind: .statusRegex("^2"), pattern: ""))
        #expect(rstatus.statusMatches(200) && !rstatus.statusMatches(500))
        #expect(Expectation.contains([1, 2, 3, 4], [3, 4]) && !Expectation.contains([1, 2], [2, 3]))
    }

    @Test func requestBytes() {
        var check = HTTPCheck()
        #expect(String(decoding: HealthChecker.request(check), as: UTF8.self) == "OPTIONS / HTTP/1.0\r\n\r\n")
        check.method = "GET"
        check.uri = "/health"
        check.version = "HTTP/1.1"
        check.headers = [CheckHeader(name: "Host", value: "example.com")]
        check.body = "hi"
        #expect(String(decoding: HealthChecker.request(check), as: UTF8.self)
                == "GET /health HTTP/1.1\r\nHost: example.com\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi")
    }
}

/// Passive checks through the checker, on a real (idle) event loop.
@Suite struct PassiveCheckTests {
    private func checker(_ serverOptions: String) throws -> HealthChecker {
        let text = """
            defaults
                timeout connect 1s
                timeout client 1s
                timeout server 1s
            backend be
                server s1 127.0.0.1:9 check \(serverOptions)
                server s2 127.0.0.1:10
            """
        let result = ConfigParser.parse([ConfigFile(name: "t.cfg", bytes: Array(text.utf8))], environment: [:])
        let configuration = try #require(result.configuration)
        return HealthChecker(configuration: configuration, tokenKind: 9)
    }

    @Test func outcomesUnderEachMode() {
        #expect(PassiveOutcome.connectFailed.isError(under: .layer4) == true)
        #expect(PassiveOutcome.connectFailed.isError(under: .layer7) == true)
        #expect(PassiveOutcome.connected.isError(under: .layer4) == false)
        #expect(PassiveOutcome.connected.isError(under: .layer7) == nil)
        #expect(PassiveOutcome.httpStatus(503).isError(under: .layer7) == true)
        #expect(PassiveOutcome.httpStatus(501).isError(under: .layer7) == false)
        #expect(PassiveOutcome.httpStatus(404).isError(under: .layer7) == false)
        #expect(PassiveOutcome.httpStatus(503).isError(under: .layer4) == nil)
        #expect(PassiveOutcome.noResponse.isError(under: .layer7) == true)
        #expect(PassiveOutcome.responseTimeout.isError(under: .layer7) == true)
        #expect(PassiveOutcome.noResponse.isError(under: .layer4) == nil)
        for outcome in [PassiveOutcome.connectFailed, .connected, .httpStatus(502), .invalidResponse, .noResponse,
                        .responseTimeout] {
            #expect(PassiveOutcome(wire: Substring(outcome.wire)) == outcome)
        }
        #expect(PassiveOutcome(wire: "HTTPx") == nil)
    }

    @Test func errorLimitThenMarkDown() throws {
        var loop = try EventLoop()
        var c = try checker("observe layer4 error-limit 2 on-error mark-down")
        #expect(c.observe(backend: 0, server: 0, .connectFailed, loop: &loop).isEmpty)
        #expect(c.observe(backend: 0, server: 0, .connected, loop: &loop).isEmpty)
        #expect(c.observe(backend: 0, server: 0, .connectFailed, loop: &loop).isEmpty)
        let events = c.observe(backend: 0, server: 0, .connectFailed, loop: &loop)
        #expect(events.map(\.kind) == [.wentDown])
        #expect(events.first?.logLine()?.contains("reason: Health analyze, info: \"Detected 2 consecutive errors, last one was: L4 unsuccessful connection\"") == true)
        #expect(events.first?.activeLeft == 1)
        // Unchecked servers and servers without `observe` are not counted.
        #expect(c.observe(backend: 0, server: 1, .connectFailed, loop: &loop).isEmpty)
    }

    @Test func suddenDeathLeavesOneFailure() throws {
        var loop = try EventLoop()
        var c = try checker("observe layer7 error-limit 1 on-error sudden-death")
        // No state change: only the result, for `show stat`, counted as a failed check.
        let events = c.observe(backend: 0, server: 0, .httpStatus(500), loop: &loop)
        #expect(events.map(\.kind) == [.checked] && events.first?.countsFailure == true)
        #expect(events.first?.result?.status == .healthAnalyze && events.first?.logLine() == nil)
        #expect(c.servers[0].state.isUp && c.servers[0].state.health == c.servers[0].state.rise)
        var fail = try checker("observe layer7 error-limit 1 on-error fail-check")
        #expect(fail.observe(backend: 0, server: 0, .invalidResponse, loop: &loop).map(\.kind) == [.wentDown])
    }
}

@Suite struct ForcedCheckStateTests {
    @Test func forceUpAndDown() {
        var state = CheckState(rise: 2, fall: 3)
        #expect(state.force(up: false) == .wentDown)
        #expect(state.health == 0 && !state.isUp)
        #expect(state.force(up: false) == .none)
        #expect(state.force(up: true) == .wentUp)
        #expect(state.health == 4 && state.isUp)
        // The checks go on from the forced state: three failures to DOWN.
        #expect(state.record(success: false) == .none)
        #expect(state.record(success: false) == .none)
        #expect(state.record(success: false) == .wentDown)
    }
}

@Suite struct SpreadChecksTests {
    @Test func intervalsMoveWithinTheirShareEitherWay() {
        #expect(HealthChecker.spread(2000, percent: 0) == 2000)
        let drawn = (0..<200).map { _ in HealthChecker.spread(2000, percent: 10) }
        #expect(drawn.allSatisfy { (1800...2200).contains($0) }, "\(drawn)")
        // 200 draws from 401 values: all equal, or all on one side, would mean no spread.
        #expect(drawn.contains { $0 < 2000 } && drawn.contains { $0 > 2000 }, "\(drawn)")
    }
}
