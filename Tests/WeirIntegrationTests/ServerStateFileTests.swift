import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("server-state-file", .serialized)
struct ServerStateFileTests {
    @Test("states saved with show servers state come back at a reload and at a restart; the file decides")
    func savedStatesApply() throws {
        let s1 = try Backend(.nameThenHold("s1")), s2 = try Backend(.nameThenHold("s2")), s3 = try Backend(.nameThenHold("s3"))
        defer {
            s1.stop()
            s2.stop()
            s3.stop()
        }
        let directory = NSTemporaryDirectory() + "weir-st-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = statsSocketPath()
        let config = """
            global
                nbthread 2
                stats socket \(socket) level admin
                server-state-base \(directory)
                server-state-file servers.state
            defaults
                mode tcp
                timeout connect 2s
                timeout client 60s
                timeout server 60s
                load-server-state-from-file global
            frontend fe
                bind 127.0.0.1:0
                default_backend be
            backend be
                server s1 \(s1.address)
                server s2 \(s2.address)
                server s3 \(s3.address)
            backend other
                load-server-state-from-file none
                server o1 \(s1.address)

            """
        var h = try MasterHarness(config: config)
        defer { h.close() }
        // No file yet: a warning, and the configured states.
        #expect(h.master.stderr.text.contains("cannot read server state file '\(directory)/servers.state'"))
        #expect(try statsCommand(socket, "set server be/s1 state maint") == "\n")
        #expect(try statsCommand(socket, "set server be/s2 weight 4") == "\n")
        #expect(try statsCommand(socket, "set server be/s3 health down") == "\n")
        #expect(try statsCommand(socket, "disable server other/o1") == "\n")
        let saved = try statsCommand(socket, "show servers state")
        try saved.write(toFile: directory + "/servers.state", atomically: true, encoding: .utf8)
        // Changed after the dump: the reload carries these, then the file
        // puts back what was saved (except for `other`, which loads none).
        #expect(try statsCommand(socket, "set server be/s1 state ready") == "\n")
        #expect(try statsCommand(socket, "set server be/s2 weight 1") == "\n")
        #expect(try statsCommand(socket, "set server be/s3 health up") == "\n")
        #expect(try statsCommand(socket, "enable server other/o1") == "\n")
        var (ok, table) = waitForStat(socket) { $0.text("be/s1", "status") == "no check" && $0.text("other/o1", "status") == "no check" }
        try #require(ok, "\(table.map(\.raw) ?? "no answer")")

        let (success, answer) = try h.reload()
        try #require(success, "\(answer)")
        func savedStatesBack(_ t: StatTable) -> Bool {
            t.text("be/s1", "status") == "MAINT" && t.int("be/s2", "weight") == 4 && t.text("be/s3", "status") == "DOWN"
                && t.text("other/o1", "status") == "no check"
        }
        (ok, table) = waitForStat(socket, savedStatesBack)
        #expect(ok, "after a reload: \(table.map(\.raw) ?? "no answer")")
        #expect(try statsCommand(socket, "get weight be/s2") == "4 (initial 1)\n\n")
        h.expectNoWorkerCrash()

        // A restart: nothing carries over but the file.
        h.close()
        h = try MasterHarness(config: config)
        (ok, table) = waitForStat(socket, savedStatesBack)
        #expect(ok, "after a restart: \(table.map(\.raw) ?? "no answer")")
        // The server in maintenance takes no sessions.
        let port = try h.master.port(of: "fe")
        var seen: Set<String> = []
        for _ in 0..<6 {
            let client = try Client(port: port)
            seen.insert(try client.readLine())
            client.close()
        }
        #expect(seen == ["s2"], "s1 is in maintenance and s3 down")
        h.expectNoWorkerCrash()
    }
}
