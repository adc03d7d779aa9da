import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Reloads: under load, with an invalid configuration, with binds added and
/// removed, and across long-lived connections.
@Suite("Master: reload", .serialized)
struct MasterReloadTests {
    @Test("20 reloads (SIGUSR2, SIGHUP, CLI) under keep-alive and new-connection load: zero failures, every old generation exits")
    func reloadsUnderLoad() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address))
        defer { h.close() }
        let port = try h.master.port(of: "fe")

        let keepAlive = KeepAliveLoad(port: port, connections: 50, requestsPerConnection: 20...60)
        let fresh = ConnectLoop(port: port)
        let watcher = ShowProcWatcher(h, expectedWorkers: 2)
        defer {
            _ = keepAlive.stop()
            _ = fresh.stop()
            _ = watcher.stop()
        }
        try #require(keepAlive.waitForRounds(3), "the keep-alive load does not run: \(keepAlive.snapshot)")
        try #require(fresh.waitForSuccesses(5), "new connections fail: \(fresh.failed.prefix(5))")

        for i in 0..<20 {
            switch i % 4 {
            case 0, 2:
                #expect(h.reloadBySignal(SIGUSR2), "reload \(i + 1) (SIGUSR2) did not end in 'Loading success.'; \(h.output)")
            case 1:
                let (success, answer) = try h.reload()
                #expect(success, "reload \(i + 1) (CLI): \(answer)")
            default:
                #expect(h.reloadBySignal(SIGHUP), "reload \(i + 1) (SIGHUP) did not end in 'Loading success.'; \(h.output)")
            }
            // Traffic crosses every generation.
            #expect(keepAlive.waitForRounds(2), "keep-alive load stalled after reload \(i + 1)")
            #expect(fresh.waitForSuccesses(3), "new connections stalled after reload \(i + 1)")
        }
        #expect(fresh.waitForSuccesses(5))
        let load = keepAlive.stop()
        let (succeeded, failed) = fresh.stop()
        let watched = watcher.stop()

        #expect(load.failures.isEmpty, "keep-alive load: \(load)")
        #expect(load.requests > 1000, "keep-alive load: \(load)")
        #expect(failed.isEmpty, "new connections: \(succeeded) succeeded, \(failed.count) failed: \(failed.prefix(8))")
        #expect(watched.problems.isEmpty, "show proc during the reloads (\(watched.polls) polls): \(watched.problems.prefix(5))")
        #expect(watched.polls > 10)

        let (drained, last) = h.waitForNoOldWorkers(timeout: 20)
        #expect(drained, "old workers still listed 20 s after the last reload:\n\(last?.raw ?? "no show proc")")
        let table = try h.showProc()
        #expect(table.master.pid == h.pid, "the master's pid changed: \(table)")
        #expect(table.master.reloads == "20", "\(table)")
        #expect(table.workers.count == 2, "\(table)")
        let current = Set(table.workers.map(\.pid))
        // The reader of the master's output may trail the CLI's answers.
        #expect(waitUntil(timeout: 10) { h.master.readyLines.count == 2 * 21 }, "expected 42 'ready' lines; \(h.output)")
        let everyWorker = h.master.readyLines.map(\.pid)
        let survivors = everyWorker.filter { !current.contains($0) && processIsAlive($0) }
        #expect(waitUntil(timeout: 10) { survivors.allSatisfy { !processIsAlive($0) } },
                "old workers still running: \(survivors.filter(processIsAlive))")
        #expect(!h.master.hasExited)
        h.expectNoWorkerCrash()
    }

    @Test("bursts of connections made while reloads switch generations are all served (no accept queue lost)")
    func burstsDuringReloads() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address))
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        var failures: [String] = []
        var served = 0
        for round in 1...5 {
            // Connections complete in the kernel before anyone accepts them:
            // some wait in an accept queue while the generations switch.
            let before = h.master.loadingSuccesses
            h.master.signal(SIGUSR2)
            var clients: [(Int, Client)] = []
            for i in 0..<60 {
                do { clients.append((i, try Client(port: port, ioTimeout: 5))) } catch {
                    failures.append("round \(round) connect \(i): \(error)")
                }
            }
            #expect(h.master.waitForLoadingSuccess(count: before + 1), "reload \(round); \(h.output)")
            for (i, c) in clients {
                if echoes(c, "r\(round) c\(i)") { served += 1 } else { failures.append("round \(round) connection \(i) not served") }
                c.close()
            }
        }
        #expect(failures.isEmpty, "\(served) served, \(failures.count) failed: \(failures.prefix(8))")
        let (drained, last) = h.waitForNoOldWorkers(timeout: 10)
        #expect(drained, "\(last?.raw ?? "")")
        h.expectNoWorkerCrash()
    }

    @Test("an invalid configuration on reload changes nothing; CLI reload reports the error; 'weir cli reload' exits 1")
    func invalidConfigurationOnReload() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let valid = masterConfig(server: backend.address)
        let h = try MasterHarness(config: valid)
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        let before = try h.showProc()
        #expect(connectAndEcho(port))
        let held = try Client(port: port)
        defer { held.close() }
        #expect(echoes(held, "before"))

        // An unknown keyword in the frontend, at a known line and column.
        let invalid = valid.replacingOccurrences(of: "    default_backend be", with: "    frobnicate yes\n    default_backend be")
        let badLine = try #require(invalid.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.contains("frobnicate") }) + 1
        try h.writeConfig(invalid)
        let location = "weir.cfg:\(badLine):5: error:"

        let (success, answer) = try h.reload()
        #expect(!success, "\(answer)")
        #expect(answer.hasPrefix("Success=0\n--\n"), "\(answer)")
        #expect(answer.contains(location) && answer.contains("frobnicate"), "no '\(location)' in the answer:\n\(answer)")
        #expect(h.master.stderr.waitForLine(timeout: 5) { $0.contains("[ALERT]") && $0.contains("Reload failed") } != nil,
                "\(h.output)")
        #expect(h.master.stderr.lines.contains { $0.contains(location) }, "\(h.output)")

        // The command systemd's ExecReload runs.
        let cli = try WeirProcess.run(["cli", h.socketPath, "reload"])
        #expect(cli.status == 1, "weir cli reload exited \(cli.status); stdout: \(cli.stdout) stderr: \(cli.stderr)")
        #expect(cli.stdout.hasPrefix("Success=0") && cli.stdout.contains(location), "stdout: \(cli.stdout)")

        // SIGUSR2 with the same file: logged, nothing changes.
        let failuresSoFar = h.master.count(of: "Reload failed")
        h.master.signal(SIGUSR2)
        #expect(h.master.waitForCount(of: "Reload failed", atLeast: failuresSoFar + 1, timeout: 10), "\(h.output)")

        // The old workers still serve, old connection and new ones alike.
        #expect(echoes(held, "after the failed reloads"))
        for i in 0..<5 { #expect(connectAndEcho(port, "new \(i)")) }
        let after = try h.showProc()
        #expect(Set(after.workers.map(\.pid)) == Set(before.workers.map(\.pid)), "workers changed:\n\(before)\n\(after)")
        #expect(after.old.isEmpty && after.starting.isEmpty, "\(after)")
        #expect(h.master.loadingSuccesses == 1, "\(h.output)")

        // Fixed: the next reload succeeds.
        try h.writeConfig(valid)
        let fixed = try WeirProcess.run(["cli", h.socketPath, "reload"])
        #expect(fixed.status == 0 && fixed.stdout.hasPrefix("Success=1"), "stdout: \(fixed.stdout) stderr: \(fixed.stderr)")
        let reloaded = try h.showProc()
        #expect(Set(reloaded.workers.map(\.pid)).isDisjoint(with: before.workers.map(\.pid)), "\(reloaded)")
        #expect(connectAndEcho(port))
        #expect(echoes(held, "after the good reload"))
        h.expectNoWorkerCrash()
    }

    @Test("zero-warning: a reload whose configuration warns is refused and the running one keeps serving")
    func zeroWarningRefusesAWarningReload() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address, global: "    zero-warning"))
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        // 'option httplog' in tcp mode is ignored with a warning.
        try h.writeConfig(masterConfig(server: backend.address, global: "    zero-warning",
                                       extraSections: "frontend warned\n    bind 127.0.0.1:0\n    option httplog\n    default_backend be"))
        let (success, answer) = try h.reload()
        #expect(!success && answer.contains("'zero-warning' makes them fatal") && answer.contains("ignored in tcp mode"),
                "\(answer)")
        #expect(connectAndEcho(port), "\(h.output)")
    }

    @Test("two frontends on 127.0.0.1:0 each keep their own port and socket across reloads")
    func twoEphemeralBindsKeepTheirPorts() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let second = """
            frontend other
                bind 127.0.0.1:0
                default_backend be
            """
        let h = try MasterHarness(config: masterConfig(server: backend.address, extraSections: second))
        defer { h.close() }
        let first = try h.master.port(of: "fe")
        let other = try h.master.port(of: "other")
        #expect(first != other)
        #expect(connectAndEcho(first) && connectAndEcho(other))
        for i in 1...2 {
            let (success, answer) = try h.reload()
            #expect(success, "reload \(i): \(answer)")
            #expect(connectAndEcho(first), "fe's port \(first) no longer serves after reload \(i)")
            #expect(connectAndEcho(other), "other's port \(other) no longer serves after reload \(i)")
        }
        h.expectNoWorkerCrash()
    }

    @Test("a reload that adds a bind and removes another: the new port serves, the removed one refuses, the kept one never refuses")
    func addAndRemoveBinds() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let removedPort = try freeLoopbackPort()
        var addedPort = try freeLoopbackPort()
        while addedPort == removedPort { addedPort = try freeLoopbackPort() }
        let h = try MasterHarness(config: masterConfig(server: backend.address,
                                                       binds: ["127.0.0.1:0", "127.0.0.1:\(removedPort)"]))
        defer { h.close() }
        let announced = try (0..<2).map { try h.master.port(of: "fe", index: $0) }
        #expect(announced.contains(removedPort), "\(h.output)")
        let keptPort = try #require(announced.first { $0 != removedPort }, "\(h.output)")
        #expect(connectAndEcho(keptPort) && connectAndEcho(removedPort))
        #expect(Sock.isRefused(port: addedPort), "port \(addedPort) is already in use")

        let kept = ConnectLoop(port: keptPort, pauseMicroseconds: 1_000)
        defer { _ = kept.stop() }
        try #require(kept.waitForSuccesses(5), "\(kept.failed.prefix(3))")

        try h.writeConfig(masterConfig(server: backend.address, binds: ["127.0.0.1:0", "127.0.0.1:\(addedPort)"]))
        let (success, answer) = try h.reload()
        #expect(success, "\(answer)\n\(h.output)")
        #expect(h.master.stderr.lines.contains { $0.contains("Proxy fe listening on 127.0.0.1:\(addedPort)") }, "\(h.output)")

        #expect(connectAndEcho(addedPort), "the added bind does not serve")
        #expect(waitUntil(timeout: 10) { Sock.isRefused(port: removedPort) }, "the removed bind still accepts")
        #expect(connectAndEcho(keptPort), "the kept bind (127.0.0.1:0 → \(keptPort)) no longer serves")

        // A second reload with the same file keeps every port.
        let again = try h.reload()
        #expect(again.success, "\(again.answer)")
        #expect(connectAndEcho(addedPort) && connectAndEcho(keptPort))
        #expect(Sock.isRefused(port: removedPort))

        #expect(kept.waitForSuccesses(5))
        let (succeeded, failed) = kept.stop()
        #expect(failed.isEmpty, "kept port: \(succeeded) succeeded, \(failed.count) failed: \(failed.prefix(8))")
        h.expectNoWorkerCrash()
    }

    @Test("a connection opened before 5 reloads still echoes after each (no hard-stop-after); its old worker exits once it closes")
    func longLivedConnectionSurvivesReloads() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address))
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        let held = try Client(port: port)
        defer { held.close() }
        #expect(echoes(held, "before"))
        let firstWorkers = Set(try h.showProc().workers.map(\.pid))

        for i in 1...5 {
            let (success, answer) = try h.reload()
            #expect(success, "reload \(i): \(answer)")
            #expect(echoes(held, "after reload \(i)"), "the long-lived connection broke at reload \(i)")
            #expect(connectAndEcho(port))
        }
        // Only the generation-1 worker holding the connection lingers, and shows it.
        let lingering = waitUntil(timeout: 10) {
            guard let t = try? h.showProc() else { return false }
            return t.old.count == 1 && firstWorkers.contains(t.old[0].pid) && t.old[0].connections == "1"
        }
        #expect(lingering, "expected one old worker of generation 1 with 1 connection:\n\((try? h.showProc())?.raw ?? "")")

        held.close()
        let (drained, last) = h.waitForNoOldWorkers(timeout: 10)
        #expect(drained, "the old worker did not exit after its last connection closed:\n\(last?.raw ?? "")")
        #expect(waitUntil(timeout: 5) { firstWorkers.allSatisfy { !processIsAlive($0) } })
        h.expectNoWorkerCrash()
    }

    @Test("with hard-stop-after 1s an idle connection of the old generation is closed after a reload")
    func hardStopAfterClosesOldConnection() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address, global: "    hard-stop-after 1s"))
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        let held = try Client(port: port)
        defer { held.close() }
        #expect(echoes(held, "before"))
        let firstWorkers = try h.showProc().workers.map(\.pid)

        let reloaded = monotonicNow()
        let (success, answer) = try h.reload()
        #expect(success, "\(answer)")
        #expect(echoes(held, "right after the reload"), "closed before hard-stop-after")

        held.setReadTimeout(8)
        let end = held.readToEnd()
        let elapsed = monotonicNow() - reloaded
        #expect(end.end.isClosed, "the old connection was not closed: \(end.end)")
        #expect(elapsed >= 0.9 && elapsed < 6, "closed \(elapsed) s after the reload, hard-stop-after is 1 s")
        #expect(waitUntil(timeout: 5) { firstWorkers.allSatisfy { !processIsAlive($0) } }, "old workers still alive")
        let (drained, last) = h.waitForNoOldWorkers(timeout: 5)
        #expect(drained, "\(last?.raw ?? "")")
        #expect(connectAndEcho(port))
    }

    @Test("mworker-max-reloads 1: an old worker survives one reload, and is stopped by the next")
    func maxReloadsStopsOldWorkers() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address, global: "    mworker-max-reloads 1"))
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        let held = try Client(port: port)
        defer { held.close() }
        #expect(echoes(held, "before"))
        let firstWorkers = try h.showProc().workers.map(\.pid)

        let first = try h.reload()
        #expect(first.success, "\(first.answer)")
        #expect(echoes(held, "after one reload"), "stopped before mworker-max-reloads was exceeded")

        let second = try h.reload()
        #expect(second.success, "\(second.answer)")
        held.setReadTimeout(5)
        #expect(held.readToEnd().end.isClosed, "the connection of a worker past mworker-max-reloads is still open")
        #expect(waitUntil(timeout: 5) { firstWorkers.allSatisfy { !processIsAlive($0) } }, "generation-1 workers still alive")
        #expect(connectAndEcho(port))
        h.expectNoWorkerCrash()
    }

    @Test("a master CLI connection open across a reload is still answered")
    func cliConnectionAcrossReload() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let h = try MasterHarness(config: masterConfig(server: backend.address))
        defer { h.close() }
        // Connected (and accepted) before the reload, command sent after it.
        let cli = try UnixClient(path: h.socketPath)
        defer { cli.close() }
        // Another command answered means the master accepted the first connection (one accept queue, in order).
        _ = try h.showProc()
        #expect(h.reloadBySignal(SIGUSR2), "\(h.output)")
        let answer = cli.ask("show proc")
        #expect(answer.error == nil, "\(answer.error ?? "")")
        let table = try? ProcTable(parsing: answer.text)
        #expect(table?.master.pid == h.pid, "answer: '\(answer.text)'")
    }
}

/// Polls `show proc` on a background thread while a test runs, recording
/// every answer that does not parse or is inconsistent: another master pid,
/// not exactly `expectedWorkers` current workers, a pid listed twice.
final class ShowProcWatcher: @unchecked Sendable {
    struct Result: Sendable {
        var polls = 0
        var problems: [String] = []
    }

    private let state = Mutex(Result())
    private let stopFlag = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)

    init(_ harness: MasterHarness, expectedWorkers: Int, intervalMicroseconds: UInt32 = 50_000) {
        let socket = harness.socketPath
        let masterPID = harness.pid
        let thread = Thread { [self] in
            defer { finished.store(true, ordering: .sequentiallyConsistent) }
            while !stopFlag.load(ordering: .sequentiallyConsistent) {
                var problem: String?
                do {
                    let table = try ProcTable(parsing: masterCLI(socket, "show proc", timeout: 10))
                    let pids = [table.master.pid] + table.sections.values.flatMap { $0.map(\.pid) }
                    if table.master.pid != masterPID {
                        problem = "master pid \(table.master.pid), expected \(masterPID):\n\(table)"
                    } else if table.workers.count != expectedWorkers {
                        problem = "\(table.workers.count) current workers:\n\(table)"
                    } else if Set(pids).count != pids.count {
                        problem = "a pid listed twice:\n\(table)"
                    }
                } catch {
                    problem = "\(error)"
                }
                state.withLock {
                    $0.polls += 1
                    if let problem { $0.problems.append(problem) }
                }
                usleep(intervalMicroseconds)
            }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    deinit { _ = stop() }

    func stop() -> Result {
        stopFlag.store(true, ordering: .sequentiallyConsistent)
        _ = waitUntil(timeout: 15) { finished.load(ordering: .sequentiallyConsistent) }
        return state.withLock { $0 }
    }
}
