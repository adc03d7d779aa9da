import Foundation
import Testing

// Health checks under a master: run once by the master, not once per
// worker, and their results reach every worker's balancer.

private func healthMasterConfig(servers: String, nbthread: Int, global: String = "") -> String {
    """
    global
        nbthread \(nbthread)
    \(global)

    defaults
        mode tcp
        timeout connect 500ms
        timeout client 30s
        timeout server 30s

    frontend fe
        bind 127.0.0.1:0
        default_backend be

    backend be
        balance roundrobin
        retries 0
    \(servers)
    """
}

@Suite("Health checks under a master")
struct HealthCheckMasterTests {
    @Test("with four workers each server gets one check per interval, not four")
    func checksRunOnce() throws {
        let backends = try (0..<2).map { _ in try Backend(.echo) }
        defer { backends.forEach { $0.stop() } }
        let config = healthMasterConfig(servers: """
                server s1 \(backends[0].address) check inter 100ms
                server s2 \(backends[1].address) check inter 100ms
            """, nbthread: 4)
        let harness = try MasterHarness(config: config)
        defer { harness.close() }
        #expect(harness.master.waitForCount(of: " ready", atLeast: 4))
        // Checks started: count over a measured window.
        #expect(backends[0].waitFor { $0.accepted >= 2 } && backends[1].waitFor { $0.accepted >= 2 })
        let before = backends.map { $0.snapshot.accepted }
        let started = monotonicNow()
        usleep(1_500_000)
        let elapsed = monotonicNow() - started
        let checks = backends.enumerated().map { $0.element.snapshot.accepted - before[$0.offset] }
        let expected = elapsed / 0.1
        for (i, n) in checks.enumerated() {
            // About elapsed / inter; four checkers would make it about four times that.
            #expect(Double(n) >= expected * 0.5 && Double(n) <= expected * 1.5,
                    "s\(i + 1): \(n) checks in \(elapsed)s at inter 100ms")
        }
        // Checks connect and close without sending a byte.
        #expect(backends.allSatisfy { $0.snapshot.bytesReceived == 0 })

        // After a reload (a re-executed master, a new generation of
        // workers) they still run once.
        let reload = try harness.reload()
        #expect(reload.success, "\(reload.answer)")
        let afterReload = backends.map { $0.snapshot.accepted }
        let again = monotonicNow()
        usleep(1_500_000)
        let elapsedAgain = monotonicNow() - again
        for (i, backend) in backends.enumerated() {
            let n = backend.snapshot.accepted - afterReload[i]
            #expect(Double(n) >= elapsedAgain / 0.1 * 0.5 && Double(n) <= elapsedAgain / 0.1 * 1.5,
                    "s\(i + 1): \(n) checks in \(elapsedAgain)s after the reload")
        }
        harness.expectNoWorkerCrash()
    }

    @Test("a server the master marks DOWN is skipped by every worker; UP brings it back")
    func downReachesEveryWorker() throws {
        let s1 = try Backend(.name("s1"))
        let s2 = try Backend(.name("s2"))
        defer {
            s1.stop()
            s2.stop()
        }
        let config = healthMasterConfig(servers: """
                server s1 \(s1.address) check inter 100ms rise 1 fall 1
                server s2 \(s2.address) check inter 100ms rise 1 fall 1
            """, nbthread: 4)
        let harness = try MasterHarness(config: config)
        defer { harness.close() }
        #expect(harness.master.waitForCount(of: " ready", atLeast: 4))
        let port = try harness.master.port(of: "fe")
        let s1Port = s1.port
        s1.stop()
        let down = harness.master.stderr.waitForLine(timeout: 10) { $0.contains("Server be/s1 is DOWN") }
        #expect(down != nil, "stderr:\n\(harness.master.stderr.text)")
        #expect(harness.master.count(of: "Server be/s1 is DOWN") == 1, "logged once, by the master")
        // retries 0: a worker that still picked s1 would fail the client.
        for i in 0..<40 {
            let name = try? askName(port)
            #expect(name == "s2", "connection \(i) answered \(name ?? "nothing")")
        }
        let again = try Backend(.name("s1"), port: s1Port)
        defer { again.stop() }
        let up = harness.master.stderr.waitForLine(timeout: 10) { $0.contains("Server be/s1 is UP") }
        #expect(up != nil, "stderr:\n\(harness.master.stderr.text)")
        var names = Set<String>()
        for _ in 0..<40 { if let name = try? askName(port) { names.insert(name) } }
        #expect(names == ["s1", "s2"], "\(names)")
        harness.expectNoWorkerCrash()
    }

    @Test("show stat gives the checked state and the last check's status: DOWN with L4CON, then UP with L4OK")
    func showStatHasTheCheckedState() throws {
        let s1 = try Backend(.name("s1"))
        let s2 = try Backend(.name("s2"))
        defer {
            s1.stop()
            s2.stop()
        }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let config = healthMasterConfig(servers: """
                server s1 \(s1.address) check inter 100ms rise 1 fall 1
                server s2 \(s2.address) check inter 100ms rise 1 fall 1
            """, nbthread: 2, global: "    stats socket \(socket) level admin")
        let harness = try MasterHarness(config: config)
        defer { harness.close() }
        let s1Port = s1.port
        s1.stop()
        let down = waitForStat(socket) { $0.text("be/s1", "status") == "DOWN" }
        #expect(down.ok, "\(down.table.map(\.raw) ?? "no answer")")
        #expect(down.table?.text("be/s1", "check_status") == "L4CON", "\(down.table.map(\.raw) ?? "")")
        #expect(down.table?.text("be/s2", "status") == "UP", "\(down.table.map(\.raw) ?? "")")
        let again = try Backend(.name("s1"), port: s1Port)
        defer { again.stop() }
        let up = waitForStat(socket) { $0.text("be/s1", "status") == "UP" && $0.text("be/s1", "check_status") == "L4OK" }
        #expect(up.ok, "\(up.table.map(\.raw) ?? "no answer")")
        harness.expectNoWorkerCrash()
    }
}
