import Foundation
import Synchronization
import Testing

// The `show stat` columns of checks and agents (chkfail, chkdown, downtime,
// check_code, last_chk, check_desc, rise/fall/health, the agent's), and
// cookie and algo, as HAProxy 2.6 fills them, with the real binary, real
// checks and a server that fails and recovers.

private func columnsConfig(socket: String, server: String) -> String {
    """
    global
        nbthread 2
        stats socket \(socket) level admin
    defaults
        mode http
        timeout connect 500ms
        timeout client 10s
        timeout server 10s
    frontend fe
        bind 127.0.0.1:0
        default_backend be
    backend be
        balance leastconn
        cookie SRV insert indirect nocache
        option httpchk GET /health
        \(server)

    """
}

/// The HTTP status a test backend answers, changed while it runs.
private final class Answer: Sendable {
    let status = Atomic<Int>(200)
}

@Suite("show stat check columns", .serialized)
struct CheckStatsColumnsTests {
    @Test("an HTTP check that fails and recovers: chkfail, chkdown, check_code, last_chk, check_desc, health, cookie, algo")
    func checkColumnsFollowAFailureAndARecovery() throws {
        let answer = Answer()
        let backend = try HTTPBackend(name: "s1") { _ in .text(answer.status.load(ordering: .relaxed), "state\n") }
        defer { backend.stop() }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let h = try MasterHarness(config: columnsConfig(
            socket: socket, server: "server s1 \(backend.address) cookie c1 check inter 100ms rise 2 fall 3"))
        defer { h.close() }

        // Passing, its counter at the top (rise + fall - 1).
        var stat = waitForStat(socket) { $0.text("be/s1", "check_health") == "4" }
        #expect(stat.ok, "\(stat.table.map(\.raw) ?? "no answer")")
        var table = try #require(stat.table)
        #expect(table.text("be/s1", "check_status") == "L7OK")
        #expect(table.text("be/s1", "check_code") == "200")
        #expect(table.text("be/s1", "last_chk") == "OK")
        #expect(table.text("be/s1", "check_desc") == "Layer7 check passed")
        #expect(table.text("be/s1", "check_rise") == "2" && table.text("be/s1", "check_fall") == "3")
        #expect(Int(table.text("be/s1", "check_duration")).map { $0 >= 0 } == true, "\(table.raw)")
        #expect(table.text("be/s1", "chkfail") == "0" && table.text("be/s1", "chkdown") == "0")
        #expect(table.text("be/s1", "downtime") == "0" && table.text("be/BACKEND", "downtime") == "0")
        #expect(table.text("be/s1", "cookie") == "c1" && table.text("be/BACKEND", "cookie") == "SRV")
        #expect(table.text("be/BACKEND", "algo") == "leastconn" && table.text("be/s1", "algo") == "")
        #expect(table.text("fe/FRONTEND", "chkdown") == "" && table.text("fe/FRONTEND", "algo") == "")

        // Three failures take it down from the top; failures while DOWN are not counted.
        answer.status.store(503, ordering: .relaxed)
        stat = waitForStat(socket) { $0.text("be/s1", "status") == "DOWN" }
        #expect(stat.ok, "\(stat.table.map(\.raw) ?? "no answer")")
        #expect(h.master.waitForCount(of: "Server be/s1 is DOWN", atLeast: 1), "\(h.master.stderr.text)")
        // Three more checks while DOWN.
        let checksSoFar = backend.requests.count
        #expect(backend.waitForRequests { $0.count >= checksSoFar + 3 })
        stat = waitForStat(socket) { $0.text("be/s1", "check_status") == "L7STS" && $0.text("be/BACKEND", "status") == "DOWN" }
        #expect(stat.ok, "\(stat.table.map(\.raw) ?? "no answer")")
        table = try #require(stat.table)
        #expect(table.text("be/s1", "check_code") == "503")
        #expect(table.text("be/s1", "last_chk") == "Service Unavailable")
        #expect(table.text("be/s1", "check_desc") == "Layer7 wrong status")
        #expect(table.text("be/s1", "check_health") == "0")
        #expect(table.text("be/s1", "chkfail") == "3", "\(table.raw)")
        #expect(table.text("be/s1", "chkdown") == "1" && table.text("be/BACKEND", "chkdown") == "1", "\(table.raw)")
        #expect(Int(table.text("be/s1", "downtime")).map { $0 >= 0 } == true, "\(table.raw)")
        #expect(Int(table.text("be/BACKEND", "downtime")).map { $0 >= 0 } == true, "\(table.raw)")

        answer.status.store(200, ordering: .relaxed)
        stat = waitForStat(socket) { $0.text("be/s1", "status") == "UP" && $0.text("be/s1", "check_health") == "4" }
        #expect(stat.ok, "\(stat.table.map(\.raw) ?? "no answer")")
        table = try #require(stat.table)
        #expect(table.text("be/s1", "check_code") == "200" && table.text("be/s1", "last_chk") == "OK")
        #expect(table.text("be/s1", "chkfail") == "3" && table.text("be/s1", "chkdown") == "1", "\(table.raw)")
        #expect(table.text("be/BACKEND", "chkdown") == "1" && table.text("be/BACKEND", "status") == "UP")
        #expect(Int(table.text("be/s1", "downtime")).map { $0 >= 0 } == true, "\(table.raw)")

        // `typed` and `json` describe the new fields as HAProxy does.
        let typed = try statsCommand(socket, "show stat typed")
        for field in [".21.chkfail.1:MCP:u64:3", ".22.chkdown.1:MCP:u64:1", ".37.check_code.1:MOP:u32:200",
                      ".56.last_chk.1:MOP:str:OK", ".65.check_desc.1:MOP:str:Layer7 check passed",
                      ".67.check_rise.1:CGS:u32:2", ".68.check_fall.1:CGS:u32:3", ".69.check_health.1:CGS:u32:4",
                      ".74.cookie.1:CNS:str:c1"] {
            #expect(typed.split(separator: "\n").contains { $0.hasPrefix("S.") && $0.hasSuffix(field) }, "\(field)\n\(typed)")
        }
        for field in [".22.chkdown.1:MCP:u64:1", ".74.cookie.1:CNS:str:SRV", ".76.algo.1:CGS:str:leastconn"] {
            #expect(typed.split(separator: "\n").contains { $0.hasPrefix("B.") && $0.hasSuffix(field) }, "\(field)\n\(typed)")
        }
        #expect(typed.contains(".38.check_duration.1:MDP:u64:") && typed.contains(".24.downtime.1:MCP:u32:"))
        let json = try statsCommand(socket, "show stat json")
        #expect(json.contains("\"name\":\"check_code\"},\"processNum\":1,"
            + "\"tags\":{\"origin\":\"Metric\",\"nature\":\"Output\",\"scope\":\"Process\"},"
            + "\"value\":{\"type\":\"u32\",\"value\":200}"), "\(json)")
        #expect(json.contains("\"name\":\"cookie\"},\"processNum\":1,"
            + "\"tags\":{\"origin\":\"Config\",\"nature\":\"Name\",\"scope\":\"Service\"},"
            + "\"value\":{\"type\":\"str\",\"value\":\"c1\"}"), "\(json)")
        h.expectNoWorkerCrash()
    }

    @Test("an agent that says up then down: agent_code, agent_desc, last_agt, agent rise/fall/health")
    func agentColumnsFollowItsReplies() throws {
        let backend = try HTTPBackend(name: "s1")
        let agent = try ScriptedServer([.write(Array("up\n".utf8))])
        defer {
            backend.stop()
            agent.stop()
        }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let h = try MasterHarness(config: columnsConfig(
            socket: socket, server: "server s1 \(backend.address) agent-check agent-port \(agent.port) agent-inter 100ms"))
        defer { h.close() }

        var stat = waitForStat(socket) { $0.text("be/s1", "agent_status") == "L7OK" }
        #expect(stat.ok, "\(stat.table.map(\.raw) ?? "no answer")")
        var table = try #require(stat.table)
        #expect(table.text("be/s1", "agent_code") == "0")
        #expect(table.text("be/s1", "agent_desc") == "Layer7 check passed")
        #expect(table.text("be/s1", "last_agt") == "via agent : up")
        #expect(table.text("be/s1", "agent_rise") == "1" && table.text("be/s1", "agent_fall") == "1")
        #expect(table.text("be/s1", "agent_health") == "1")
        #expect(Int(table.text("be/s1", "agent_duration")).map { $0 >= 0 } == true, "\(table.raw)")
        // No `check`: HAProxy shows none of the checks' columns.
        for column in ["check_status", "check_desc", "check_rise", "check_health", "chkfail", "chkdown", "downtime"] {
            #expect(table.text("be/s1", column) == "", "\(column): \(table.raw)")
        }

        agent.replaceScript([.write(Array("down # disk full\n".utf8))])
        stat = waitForStat(socket) { $0.text("be/s1", "status") == "DOWN" }
        #expect(stat.ok, "\(stat.table.map(\.raw) ?? "no answer")")
        table = try #require(stat.table)
        #expect(table.text("be/s1", "agent_status") == "L7STS")
        #expect(table.text("be/s1", "agent_desc") == "Layer7 wrong status")
        #expect(table.text("be/s1", "last_agt") == "via agent : down (disk full)")
        #expect(table.text("be/s1", "agent_health") == "0" && table.text("be/s1", "agent_code") == "0")

        let typed = try statsCommand(socket, "show stat typed")
        for field in [".63.agent_code.1:MOP:u32:0", ".66.agent_desc.1:MOP:str:Layer7 wrong status",
                      ".57.last_agt.1:MOP:str:via agent : down (disk full)", ".70.agent_rise.1:CGS:u32:1",
                      ".71.agent_fall.1:CGS:u32:1", ".72.agent_health.1:CGS:u32:0"] {
            #expect(typed.split(separator: "\n").contains { $0.hasPrefix("S.") && $0.hasSuffix(field) }, "\(field)\n\(typed)")
        }
        h.expectNoWorkerCrash()
    }
}
