import Foundation
import Testing

// `agent-check`: a scripted agent answers chosen lines; its weight,
// administrative and operational words reach the balancers, the logs,
// `show stat` and `get weight`.

private func agentConfig(socket: String, s1: Backend, s2: Backend, agentOptions: String, nbthread: Int?) -> String {
    """
    global
        \(nbthread.map { "nbthread \($0)" } ?? "")
        stats socket \(socket) level admin
    defaults
        mode tcp
        timeout connect 500ms
        timeout client 10s
        timeout server 10s
    frontend fe
        bind 127.0.0.1:0
        default_backend be
    backend be
        balance roundrobin
        retries 0
        server s1 \(s1.address) weight 10 \(agentOptions)
        server s2 \(s2.address) weight 10

    """
}

/// How many of `count` new connections each server answered.
private func names(_ port: UInt16, count: Int) -> [String: Int] {
    var seen: [String: Int] = [:]
    for _ in 0..<count { seen[(try? askName(port)) ?? "nothing", default: 0] += 1 }
    return seen
}

@Suite("Agent checks", .serialized)
struct AgentCheckTests {
    @Test("master mode: '50%' halves the weight and the traffic; agent-send reaches the agent")
    func weightFollowsTheAgent() throws {
        let s1 = try Backend(.name("s1"))
        let s2 = try Backend(.name("s2"))
        let agent = try ScriptedServer([.readLine, .write(Array("50%\n".utf8))])
        defer {
            s1.stop()
            s2.stop()
            agent.stop()
        }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let h = try MasterHarness(config: agentConfig(
            socket: socket, s1: s1, s2: s2,
            agentOptions: "agent-check agent-port \(agent.port) agent-inter 100ms agent-send \"be/s1\\n\"", nbthread: 1))
        defer { h.close() }
        #expect(waitUntil(timeout: 10) { (try? statsCommand(socket, "get weight be/s1")) == "5 (initial 10)\n\n" })
        #expect(agent.requests.first == Array("be/s1\n".utf8))
        let stat = waitForStat(socket) { $0.text("be/s1", "agent_status") == "CHECKED" }
        #expect(stat.ok, "\(stat.table.map(\.raw) ?? "no answer")")
        #expect(stat.table?.text("be/s1", "weight") == "5" && stat.table?.text("be/s1", "status") == "UP")
        // One worker, smooth round robin over weights 5 and 10: a third to s1.
        let seen = names(try h.master.port(of: "fe"), count: 60)
        #expect((15...25).contains(seen["s1"] ?? 0) && (seen["s1"] ?? 0) + (seen["s2"] ?? 0) == 60, "\(seen)")

        agent.replaceScript([.readLine, .write(Array("100% maxconn:7\n".utf8))])
        #expect(waitUntil(timeout: 10) { (try? statsCommand(socket, "get weight be/s1")) == "10 (initial 10)\n\n" })
        #expect(waitForStat(socket) { $0.text("be/s1", "slim") == "7" }.ok)
        h.expectNoWorkerCrash()
    }

    @Test("master mode: drain, maint, ready, down and up from the agent")
    func administrativeAndOperationalWords() throws {
        let s1 = try Backend(.name("s1"))
        let s2 = try Backend(.name("s2"))
        let agent = try ScriptedServer([.write(Array("drain\n".utf8))])
        defer {
            s1.stop()
            s2.stop()
            agent.stop()
        }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let h = try MasterHarness(config: agentConfig(
            socket: socket, s1: s1, s2: s2,
            agentOptions: "check inter 100ms agent-check agent-port \(agent.port) agent-inter 100ms", nbthread: 2))
        defer { h.close() }
        let port = try h.master.port(of: "fe")

        var stat = waitForStat(socket) { $0.text("be/s1", "status") == "DRAIN" }
        #expect(stat.ok, "\(stat.table.map(\.raw) ?? "no answer")")
        #expect(h.master.waitForCount(of: "Server be/s1 enters drain state (via agent).", atLeast: 1),
                "\(h.master.stderr.text)")
        #expect(names(port, count: 10) == ["s2": 10])

        agent.replaceScript([.write(Array("maint # upgrading\n".utf8))])
        stat = waitForStat(socket) { $0.text("be/s1", "status") == "MAINT" }
        #expect(stat.ok, "\(stat.table.map(\.raw) ?? "no answer")")
        #expect(h.master.waitForCount(
            of: "Server be/s1 is going DOWN for maintenance (via agent, info: \"upgrading\").", atLeast: 1),
                "\(h.master.stderr.text)")
        #expect(names(port, count: 10) == ["s2": 10])

        agent.replaceScript([.write(Array("ready\n".utf8))])
        stat = waitForStat(socket) { $0.text("be/s1", "status") == "UP" }
        #expect(stat.ok, "\(stat.table.map(\.raw) ?? "no answer")")
        #expect(h.master.waitForCount(of: "Server be/s1 is leaving forced maintenance (via agent).", atLeast: 1),
                "\(h.master.stderr.text)")
        #expect(names(port, count: 10).keys.sorted() == ["s1", "s2"])

        // DOWN although its health check passes, until the agent says up.
        agent.replaceScript([.write(Array("down # disk full\n".utf8))])
        stat = waitForStat(socket) { $0.text("be/s1", "status") == "DOWN" }
        #expect(stat.ok, "\(stat.table.map(\.raw) ?? "no answer")")
        #expect(stat.table?.text("be/s1", "agent_status") == "L7STS", "\(stat.table.map(\.raw) ?? "")")
        #expect(h.master.waitForCount(
            of: "Server be/s1 is DOWN, reason: Layer7 wrong status, info: \"via agent : down (disk full)\"", atLeast: 1),
                "\(h.master.stderr.text)")
        #expect(names(port, count: 10) == ["s2": 10])
        #expect(h.master.count(of: "Server be/s1 is UP") == 0, "the passing health check does not bring it back")

        agent.replaceScript([.write(Array("up\n".utf8))])
        #expect(h.master.waitForCount(of: "Server be/s1 is UP, reason: Layer7 check passed, info: \"via agent : up\"",
                                      atLeast: 1), "\(h.master.stderr.text)")
        #expect(waitForStat(socket) { $0.text("be/s1", "status") == "UP" }.ok)
        h.expectNoWorkerCrash()
    }

    @Test("master mode: an agent that cannot be reached leaves the server UP")
    func unreachableAgentChangesNothing() throws {
        let s1 = try Backend(.name("s1"))
        let s2 = try Backend(.name("s2"))
        defer {
            s1.stop()
            s2.stop()
        }
        let refused = try Sock.refusedPort()
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let h = try MasterHarness(config: agentConfig(
            socket: socket, s1: s1, s2: s2,
            agentOptions: "check inter 100ms agent-check agent-port \(refused) agent-inter 100ms", nbthread: 2))
        defer { h.close() }
        let stat = waitForStat(socket) { $0.text("be/s1", "agent_status") == "L4CON" }
        #expect(stat.ok, "\(stat.table.map(\.raw) ?? "no answer")")
        #expect(stat.table?.text("be/s1", "status") == "UP" && stat.table?.text("be/s1", "weight") == "10")
        #expect(names(try h.master.port(of: "fe"), count: 10).keys.sorted() == ["s1", "s2"])
        #expect(h.master.count(of: "Server be/s1 is DOWN") == 0, "\(h.master.stderr.text)")
        h.expectNoWorkerCrash()
    }

    @Test("-d: the process's own checker applies the agent's weight and down")
    func singleProcess() throws {
        let s1 = try Backend(.name("s1"))
        let s2 = try Backend(.name("s2"))
        let agent = try ScriptedServer([.write(Array("25%\n".utf8))])
        defer {
            s1.stop()
            s2.stop()
            agent.stop()
        }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let weir = try WeirProcess.start(config: agentConfig(
            socket: socket, s1: s1, s2: s2, agentOptions: "agent-check agent-port \(agent.port) agent-inter 100ms",
            nbthread: nil))
        defer { weir.stop() }
        #expect(waitUntil(timeout: 10) { (try? statsCommand(socket, "get weight be/s1")) == "3 (initial 10)\n\n" })
        agent.replaceScript([.write(Array("fail\n".utf8))])
        #expect(weir.stderr.waitForLine(timeout: 10) { $0.contains("Server be/s1 is DOWN") } != nil, "\(weir.stderr.text)")
        #expect(names(try weir.port(of: "fe"), count: 6) == ["s2": 6])
    }
}
