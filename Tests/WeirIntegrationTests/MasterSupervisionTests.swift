import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The master supervises: replaces a killed worker, stops on SIGTERM/SIGINT,
/// drains on SIGUSR1, gives up on a crash loop.
@Suite("Master: supervision and stop", .serialized)
struct MasterSupervisionTests {
    @Test("kill -9 of a worker under load: replaced in its slot, the other keeps serving, no new connection fails")
    func killedWorkerIsReplaced() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address))
        defer { h.close() }
        let port = try h.master.port(of: "fe")

        // 20 held connections, spread by the kernel over both workers.
        let held = try (0..<20).map { _ in try Client(port: port, ioTimeout: 5) }
        defer { for c in held { c.close() } }
        for (i, c) in held.enumerated() { #expect(echoes(c, "held \(i)")) }
        var table = try h.showProc()
        let settled = waitUntil(timeout: 10) {
            guard let t = try? h.showProc() else { return false }
            table = t
            return t.workers.count == 2 && t.workers.compactMap { Int($0.connections) }.reduce(0, +) == 20
        }
        try #require(settled, "show proc does not count the 20 held connections:\n\(table)")
        let victim = table.workers[0]
        let survivor = table.workers[1]
        let victimHeld = try #require(Int(victim.connections))

        let fresh = ConnectLoop(port: port, pauseMicroseconds: 1_000)
        defer { _ = fresh.stop() }
        try #require(fresh.waitForSuccesses(5), "\(fresh.failed.prefix(3))")

        let slot = try #require(h.master.readyLines.last { $0.pid == victim.pid }?.slot, "\(h.output)")
        let killedAt = monotonicNow()
        kill(victim.pid, SIGKILL)

        let alert = h.master.stderr.waitForLine(timeout: 10) { $0.contains("[ALERT]") && $0.contains("pid \(victim.pid)") }
        #expect(alert != nil, "no ALERT about the killed worker; \(h.output)")
        if let alert { #expect(alert.contains("signal 9") || alert.contains("SIGKILL") || alert.contains("killed"), "\(alert)") }
        let replacement = h.master.stderr.waitForLine(timeout: 10) {
            guard let r = WorkerReadyLine($0) else { return false }
            return r.slot == slot && r.pid != victim.pid && r.pid != survivor.pid
        }.flatMap(WorkerReadyLine.init)
        #expect(replacement != nil, "no replacement 'worker \(slot) (pid …) ready'; \(h.output)")

        #expect(fresh.waitForSuccesses(20), "new connections stalled after the kill: \(fresh.failed.prefix(3))")
        let (succeeded, failed) = fresh.stop()
        #expect(failed.filter(\.refused).isEmpty, "refused connections: \(failed.filter(\.refused))")
        // Only an exchange already under way on the killed worker may fail.
        let late = failed.filter { $0.started > killedAt }
        #expect(late.isEmpty, "connections begun after the kill failed (\(succeeded) succeeded): \(late.prefix(5))")
        #expect(failed.count <= 1, "\(failed)")

        // The held connections of the killed worker are gone, the others untouched.
        let broken = held.enumerated().filter { !echoes($0.element, "after \($0.offset)") }.count
        #expect(broken == victimHeld, "\(broken) held connections broke, the killed worker had \(victimHeld)")

        let after = try h.showProc()
        #expect(after.workers.count == 2, "\(after)")
        #expect(after.workers.contains { $0.pid == survivor.pid } && !after.workers.contains { $0.pid == victim.pid }, "\(after)")
        if let replacement {
            #expect(after.workers.contains { $0.pid == replacement.pid }, "\(after)")
            #expect(parentPID(of: replacement.pid) == h.pid)
        }
        #expect(!h.master.hasExited)
    }

    @Test("SIGTERM and SIGINT: workers stop, connections close, the master exits 0", arguments: [SIGTERM, SIGINT])
    func stopSignals(signal: Int32) throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address))
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        let workers = h.master.readyLines.map(\.pid)
        let held = try Client(port: port)
        defer { held.close() }
        #expect(echoes(held, "before"))

        h.master.signal(signal)
        let status = h.master.waitForExit(timeout: 10)
        #expect(status == 0, "exit status \(String(describing: status)); \(h.output)")
        #expect(waitUntil(timeout: 5) { workers.allSatisfy { !processIsAlive($0) } }, "workers survive the master")
        held.setReadTimeout(5)
        #expect(held.readToEnd().end.isClosed)
        #expect(Sock.isRefused(port: port))
        #expect(!FileManager.default.fileExists(atPath: h.socketPath), "the master CLI socket was left behind")
    }

    @Test("SIGUSR1 soft stop: new connections refused, an established one keeps working, exit 0 once it closes")
    func softStop() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address))
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        let workers = h.master.readyLines.map(\.pid)
        let held = try Client(port: port)
        defer { held.close() }
        #expect(echoes(held, "before"))

        h.master.signal(SIGUSR1)
        #expect(waitUntil(timeout: 10) { Sock.isRefused(port: port) }, "new connections still accepted after SIGUSR1")
        #expect(echoes(held, "during the soft stop"), "the established connection broke")
        #expect(!h.master.hasExited, "the master exited with a connection still open")
        #expect(echoes(held, "still"))

        held.close()
        let status = h.master.waitForExit(timeout: 10)
        #expect(status == 0, "exit status \(String(describing: status)); \(h.output)")
        #expect(waitUntil(timeout: 5) { workers.allSatisfy { !processIsAlive($0) } })
    }

    @Test("a crash loop (5 worker deaths within 10 s) stops the master with an error")
    func crashLoopStops() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address))
        defer { h.close() }
        var killed: Set<pid_t> = []
        for round in 0..<5 {
            guard let target = h.master.readyLines.last(where: { $0.slot == 0 && !killed.contains($0.pid) }) else {
                Issue.record("no live worker 0 to kill at round \(round); \(h.output)")
                return
            }
            killed.insert(target.pid)
            kill(target.pid, SIGKILL)
            if round < 4 {
                let next = h.master.stderr.waitForLine(timeout: 10) {
                    guard let r = WorkerReadyLine($0) else { return false }
                    return r.slot == 0 && !killed.contains(r.pid)
                }
                #expect(next != nil, "worker 0 not replaced after crash \(round + 1); \(h.output)")
            }
        }
        let status = h.master.waitForExit(timeout: 15)
        #expect(status != nil && status != 0, "exit status \(String(describing: status)); \(h.output)")
        #expect(h.master.stderr.lines.contains { $0.contains("[ALERT]") && $0.lowercased().contains("crash") }, "\(h.output)")
    }
}
