import Foundation
import Testing

// `track`: servers without checks of their own that follow a checked
// server's health, with `-d` (the process checks) and under a master (the
// master checks and tells the workers).
@Suite("Server tracking")
struct TrackTests {
    /// Backend `be`: s1 checked, t1 tracking it, t2 tracking t1 (a chain),
    /// s2 without checks.
    private func config(socket: String, s1: Backend, t1: Backend, t2: Backend, s2: Backend, nbthread: Int?) -> String {
        tcpConfig(backend: """
                balance roundrobin
                retries 0
                server s1 \(s1.address) check inter 100ms rise 1 fall 1
                server t1 \(t1.address) track s1
                server t2 \(t2.address) track be/t1
                server s2 \(s2.address)
            """, global: """
                stats socket \(socket) level admin
                \(nbthread.map { "nbthread \($0)" } ?? "")
            """)
    }

    /// The names of `count` servers picked in a row.
    private func names(_ port: UInt16, count: Int) throws -> Set<String> {
        var seen: Set<String> = []
        for _ in 0..<count { seen.insert(try askName(port)) }
        return seen
    }

    private func statuses(_ table: StatTable) -> [String] {
        ["s1", "t1", "t2", "s2"].map { table.text("be/\($0)", "status") }
    }

    @Test("-d: trackers go DOWN with the tracked server, take no traffic, and come back UP with it")
    func trackersFollowInDebugMode() throws {
        let s1 = try Backend(.name("s1")), t1 = try Backend(.name("t1"))
        let t2 = try Backend(.name("t2")), s2 = try Backend(.name("s2"))
        let socket = statsSocketPath()
        let scenario = try Scenario(config: config(socket: socket, s1: s1, t1: t1, t2: t2, s2: s2, nbthread: nil),
                                    backends: [s1, t1, t2, s2])
        defer { scenario.close() }
        let up = waitForStat(socket) { statuses($0) == ["UP", "UP", "UP", "no check"] }
        #expect(up.ok, "\(up.table.map(\.description) ?? "no table")")
        let table = try #require(up.table)
        #expect(table.text("be/t1", "tracked") == "be/s1")
        #expect(table.text("be/t2", "tracked") == "be/t1")
        #expect(table.text("be/s1", "tracked") == "")
        #expect(try names(scenario.port, count: 8) == ["s1", "t1", "t2", "s2"])

        let port = s1.port
        s1.stop()
        let down = scenario.weir.stderr.waitForLine { $0.contains("Server be/t2 is DOWN") }
        let line = try #require(down, "stderr:\n\(scenario.weir.stderr.text)")
        #expect(line.contains("Server be/t2 is DOWN via be/t1. 1 active and 0 backup servers left."), "\(line)")
        #expect(scenario.weir.stderr.lines.contains { $0.contains("Server be/t1 is DOWN via be/s1.") },
                "\(scenario.weir.stderr.text)")
        let stat = try showStat(socket)
        #expect(statuses(stat) == ["DOWN", "DOWN", "DOWN", "no check"], "\(stat)")
        #expect(try names(scenario.port, count: 6) == ["s2"])

        let revived = try Backend(.name("s1"), port: port)
        defer { revived.stop() }
        #expect(scenario.weir.stderr.waitForLine { $0.contains("Server be/t2 is UP via be/t1.") } != nil,
                "\(scenario.weir.stderr.text)")
        let back = waitForStat(socket) { statuses($0) == ["UP", "UP", "UP", "no check"] }
        #expect(back.ok, "\(back.table.map(\.description) ?? "no table")")
        #expect(try names(scenario.port, count: 8) == ["s1", "t1", "t2", "s2"])
    }

    @Test("maintenance on the tracked server passes to its trackers (MAINT via); a tracker's own state stays its own")
    func maintenancePassesToTrackers() throws {
        let s1 = try Backend(.name("s1")), t1 = try Backend(.name("t1"))
        let t2 = try Backend(.name("t2")), s2 = try Backend(.name("s2"))
        let socket = statsSocketPath()
        let scenario = try Scenario(config: config(socket: socket, s1: s1, t1: t1, t2: t2, s2: s2, nbthread: nil),
                                    backends: [s1, t1, t2, s2])
        defer { scenario.close() }
        #expect(waitForStat(socket) { statuses($0) == ["UP", "UP", "UP", "no check"] }.ok)

        #expect(try statsCommand(socket, "set server be/s1 state maint") == "\n")
        let stat = try showStat(socket)
        #expect(statuses(stat) == ["MAINT", "MAINT (via be/s1)", "MAINT (via be/t1)", "no check"], "\(stat)")
        #expect(try names(scenario.port, count: 6) == ["s2"])
        let servers = try statsCommand(socket, "show servers state be")
        let t1Fields = servers.split(separator: "\n").map { $0.split(separator: " ") }.first { $0.count > 6 && $0[3] == "t1" }
        // srv_admin_state: IMAINT (0x02).
        #expect(t1Fields?[6] == "2", "\(servers)")

        // t1 in maintenance of its own: it stays there when s1 is ready
        // again, and t2, which tracks t1, with it.
        #expect(try statsCommand(socket, "set server be/t1 state maint") == "\n")
        #expect(try statsCommand(socket, "set server be/s1 state ready") == "\n")
        #expect(statuses(try showStat(socket)) == ["UP", "MAINT", "MAINT (via be/t1)", "no check"])
        #expect(try statsCommand(socket, "set server be/t1 state ready") == "\n")
        #expect(statuses(try showStat(socket)) == ["UP", "UP", "UP", "no check"])
        #expect(try names(scenario.port, count: 8) == ["s1", "t1", "t2", "s2"])
    }

    @Test("master mode: every worker stops using a tracker whose tracked server is DOWN")
    func trackersFollowUnderAMaster() throws {
        let s1 = try Backend(.name("s1")), t1 = try Backend(.name("t1"))
        let t2 = try Backend(.name("t2")), s2 = try Backend(.name("s2"))
        defer { for b in [s1, t1, t2, s2] { b.stop() } }
        let socket = statsSocketPath()
        let h = try MasterHarness(config: config(socket: socket, s1: s1, t1: t1, t2: t2, s2: s2, nbthread: 2))
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        let up = waitForStat(socket) { statuses($0) == ["UP", "UP", "UP", "no check"] }
        #expect(up.ok, "\(up.table.map(\.description) ?? "no table")")

        s1.stop()
        #expect(h.master.waitForCount(of: "Server be/t2 is DOWN via be/t1", atLeast: 1), "\(h.master.stderr.text)")
        let down = waitForStat(socket) { statuses($0) == ["DOWN", "DOWN", "DOWN", "no check"] }
        #expect(down.ok, "\(down.table.map(\.description) ?? "no table")")
        // Both workers (the kernel spreads the connections) skip them.
        #expect(try names(port, count: 12) == ["s2"])
        let servers = try statsCommand(socket, "show servers state be")
        let t1Line = servers.split(separator: "\n").first { $0.split(separator: " ").dropFirst(3).first == "t1" }
        // srv_op_state 0: stopped.
        #expect(t1Line?.split(separator: " ")[5] == "0", "\(servers)")
        h.expectNoWorkerCrash()
    }
}

/// A tracking server may also have an agent (HAProxy allows both): its
/// tracked server going DOWN takes it out of the counts of the log lines.
@Suite("Server tracking with an agent")
struct TrackWithAgentTests {
    @Test("a tracker whose agent cannot be reached goes DOWN with the tracked server: 0 servers left, none available")
    func trackerWithAgent() throws {
        let s1 = try Backend(.name("s1")), t1 = try Backend(.name("t1"))
        defer { t1.stop() }
        let agentPort = try freeLoopbackPort()
        let scenario = try Scenario(config: tcpConfig(backend: """
                server s1 \(s1.address) check inter 100ms rise 1 fall 1
                server t1 \(t1.address) track s1 agent-check agent-port \(agentPort) agent-inter 100ms
            """), backends: [s1, t1])
        defer { scenario.close() }
        #expect(try askName(scenario.port) != "")
        s1.stop()
        let down = scenario.weir.stderr.waitForLine { $0.contains("Server be/t1 is DOWN via be/s1") }
        let line = try #require(down, "stderr:\n\(scenario.weir.stderr.text)")
        #expect(line.contains("0 active and 0 backup servers left."), "\(line)")
        #expect(scenario.weir.stderr.waitForLine { $0.contains("backend 'be' has no server available!") } != nil,
                "stderr:\n\(scenario.weir.stderr.text)")
    }
}
