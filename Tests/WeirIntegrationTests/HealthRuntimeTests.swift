import Foundation
import Testing

/// The fields of `be/SRV`'s line in `show servers state` (version 1), by column name.
private func serverState(_ socket: String, _ server: String) throws -> [String: String] {
    let text = try statsCommand(socket, "show servers state be")
    let lines = text.split(separator: "\n").map(String.init)
    guard lines.count > 2 else { return [:] }
    let columns = lines[1].split(separator: " ").dropFirst().map(String.init)
    for line in lines.dropFirst(2) {
        let values = line.split(separator: " ").map(String.init)
        if values.count > 3 && values[3] == server {
            return Dictionary(uniqueKeysWithValues: zip(columns, values))
        }
    }
    return [:]
}

/// The `status` column of `be/SRV` in `show stat`.
private func statStatus(_ socket: String, _ server: String) throws -> String? {
    let lines = try statsCommand(socket, "show stat").split(separator: "\n")
    guard let header = lines.first?.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false),
          let column = header.firstIndex(of: "status") else { return nil }
    let row = lines.first { $0.hasPrefix("be,\(server),") }?.split(separator: ",", omittingEmptySubsequences: false)
    return row.map { String($0[column]) }
}

/// `disable health`, `enable health` and `set server … health` on the stats
/// socket reach the checker: the master's with a master, the process's own with `-d`.
@Suite("Health checks at run time")
struct HealthRuntimeTests {
    private func config(socket: String, dead: UInt16, live: Backend, nbthread: Int?) -> String {
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
            default-server check inter 100ms rise 2 fall 1
            server s1 127.0.0.1:\(dead)
            server s2 \(live.address)

        """
    }

    @Test("master mode: disable health keeps a DOWN server DOWN while it is back; enable health brings it UP")
    func disableKeepsStateEnableResumes() throws {
        let dead = try Sock.refusedPort()
        let live = try Backend(.name("s2"))
        defer { live.stop() }
        let socket = statsSocketPath()
        let h = try MasterHarness(config: config(socket: socket, dead: dead, live: live, nbthread: 2))
        defer { h.close() }
        #expect(h.master.waitForCount(of: "Server be/s1 is DOWN", atLeast: 1), "\(h.master.stderr.text)")

        #expect(try statsCommand(socket, "disable health be/s1") == "\n")
        var s1 = try serverState(socket, "s1")
        #expect(s1["srv_op_state"] == "0" && s1["srv_check_state"] == "2", "\(s1)")
        // The server comes back: unchecked, it stays DOWN (HAProxy keeps the last state).
        let revived = try Backend(.name("s1"), port: dead)
        defer { revived.stop() }
        // Eight check intervals without a check.
        Thread.sleep(forTimeInterval: 0.8)
        #expect(revived.snapshot.accepted == 0, "checked while disabled")
        #expect(h.master.count(of: "Server be/s1 is UP") == 0, "\(h.master.stderr.text)")
        let port = try h.master.port(of: "fe")
        for _ in 0..<4 {
            let client = try Client(port: port)
            #expect(try client.readLine() == "s2")
            client.close()
        }

        #expect(try statsCommand(socket, "enable health be/s1") == "\n")
        #expect(h.master.waitForCount(of: "Server be/s1 is UP", atLeast: 1), "\(h.master.stderr.text)")
        #expect(waitUntil(timeout: 10) { (try? serverState(socket, "s1"))?["srv_op_state"] == "2" })
        s1 = try serverState(socket, "s1")
        #expect(["6", "7"].contains(s1["srv_check_state"] ?? ""), "\(s1)")
        #expect(s1["srv_check_result"] == "3" && s1["srv_check_health"] == "2", "\(s1)")
        #expect(revived.waitFor { $0.accepted > 0 })

        // Forced DOWN from the CLI; the checks, still running, bring it back.
        #expect(try statsCommand(socket, "set server be/s1 health down") == "\n")
        #expect(h.master.waitForCount(of: "Server be/s1 is DOWN, changed from CLI", atLeast: 1), "\(h.master.stderr.text)")
        #expect(h.master.waitForCount(of: "Server be/s1 is UP", atLeast: 2), "\(h.master.stderr.text)")
        // Stopping: HAProxy's NOLB in `show stat` and op state 3 in `show servers state`.
        #expect(try statsCommand(socket, "set server be/s1 health stopping") == "\n")
        #expect(h.master.waitForCount(of: "Server be/s1 is stopping, changed from CLI", atLeast: 1), "\(h.master.stderr.text)")
        #expect(waitUntil(timeout: 10) { (try? serverState(socket, "s1"))?["srv_op_state"] == "3" })
        #expect(try statStatus(socket, "s1") == "NOLB")
        #expect(try statsCommand(socket, "set server be/s1 health sideways")
                == "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n\n")
        #expect(try statsCommand(socket, "disable health be/nope") == "No such server.\n\n")
        h.expectNoWorkerCrash()
    }

    @Test("-d: set server health down with checks disabled holds; up and stopping are logged")
    func forcedHealthWithoutChecks() throws {
        let live1 = try Backend(.name("s1"))
        let live2 = try Backend(.name("s2"))
        defer {
            live1.stop()
            live2.stop()
        }
        let socket = statsSocketPath()
        let text = config(socket: socket, dead: live1.port, live: live2, nbthread: nil)
        let weir = try WeirProcess.start(config: text)
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        #expect(try statsCommand(socket, "disable health be/s1") == "\n")
        #expect(try statsCommand(socket, "set server be/s1 health down") == "\n")
        #expect(weir.stderr.waitForLine(timeout: 10) { $0.contains("Server be/s1 is DOWN, changed from CLI") } != nil,
                "\(weir.stderr.text)")
        for _ in 0..<4 {
            let client = try Client(port: port)
            #expect(try client.readLine() == "s2")
            client.close()
        }
        #expect(try serverState(socket, "s1")["srv_op_state"] == "0")
        #expect(try statsCommand(socket, "set server be/s1 health stopping") == "\n")
        #expect(weir.stderr.waitForLine(timeout: 10) { $0.contains("Server be/s1 is stopping, changed from CLI") } != nil,
                "\(weir.stderr.text)")
        #expect(try serverState(socket, "s1")["srv_op_state"] == "3")
        #expect(try statStatus(socket, "s1") == "NOLB")
        #expect(try statsCommand(socket, "set server be/s1 health up") == "\n")
        #expect(weir.stderr.waitForLine(timeout: 10) { $0.contains("Server be/s1 is UP, changed from CLI") } != nil,
                "\(weir.stderr.text)")
        #expect(try statStatus(socket, "s1") == "UP")
        var seen: Set<String> = []
        for _ in 0..<6 {
            let client = try Client(port: port)
            seen.insert(try client.readLine())
            client.close()
        }
        #expect(seen == ["s1", "s2"])
    }
}
