import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Binary upgrade: the file the master was started from is replaced (as a
/// package upgrade does: a new file renamed over the old path), then a reload
/// under load runs the new binary in the same process.
@Suite("Master: binary upgrade", .serialized)
struct MasterUpgradeTests {
    /// `weir -v` of `binary`: the version after `Weir version `.
    static func version(of binary: String) throws -> String {
        let p = try MasterProcess(binary: binary, arguments: ["-v"])
        defer { p.stop() }
        let status = p.waitForExit(timeout: 10)
        p.stdout.waitForClose(timeout: 5)
        let line = try #require(p.stdout.lines.first { $0.hasPrefix("Weir version ") }, "weir -v printed: \(p.stdout.text)")
        #expect(status == 0)
        return String(line.dropFirst("Weir version ".count)).trimmingCharacters(in: .whitespaces)
    }

    @Test("a new binary on disk takes effect on reload under load: new version in show proc and -v, same master pid, zero failures")
    func binaryUpgrade() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let directory = NSTemporaryDirectory() + "weir-u-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let installed = directory + "/weir"
        _ = try copyBinary(weirBinaryPath(), to: installed)
        let oldVersion = try Self.version(of: installed)
        // Same length, another last digit: 0.1.0 → 0.1.9.
        let newVersion = String(oldVersion.dropLast()) + (oldVersion.hasSuffix("9") ? "8" : "9")

        let h = try MasterHarness(config: masterConfig(server: backend.address), binary: installed)
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        let before = try h.showProc()
        #expect(before.master.version == oldVersion && before.workers.allSatisfy { $0.version == oldVersion }, "\(before)")

        let keepAlive = KeepAliveLoad(port: port, connections: 20, requestsPerConnection: 10...30)
        let fresh = ConnectLoop(port: port)
        defer {
            _ = keepAlive.stop()
            _ = fresh.stop()
        }
        try #require(keepAlive.waitForRounds(3) && fresh.waitForSuccesses(5), "load does not run: \(keepAlive.snapshot)")

        // The upgrade: a new file under another name, renamed over the old path.
        let staged = directory + "/weir.new"
        let rewritten = try copyBinary(weirBinaryPath(), to: staged, versionFrom: oldVersion, to: newVersion)
        try #require(rewritten >= 1, "no 'WEIR_VERSION=\(oldVersion)' marker in the binary")
        try #require(rename(staged, installed) == 0, "rename: \(String(cString: strerror(errno)))")
        #expect(try Self.version(of: installed) == newVersion)

        let (success, answer) = try h.reload()
        #expect(success, "\(answer)\n\(h.output)")
        #expect(keepAlive.waitForRounds(5) && fresh.waitForSuccesses(20))

        let after = try h.showProc()
        #expect(after.master.pid == h.pid, "the master's pid changed: \(after)")
        #expect(after.master.version == newVersion, "\(after)")
        #expect(after.workers.count == 2 && after.workers.allSatisfy { $0.version == newVersion }, "\(after)")
        #expect(after.old.allSatisfy { $0.version == oldVersion }, "\(after)")
        for worker in after.workers {
            let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(worker.pid)/exe")
            #expect(exe == installed, "worker \(worker.pid) runs \(exe ?? "?")")
        }
        let masterExe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(h.pid)/exe")
        #expect(masterExe == installed, "the master runs \(masterExe ?? "?")")

        let load = keepAlive.stop()
        let (succeeded, failed) = fresh.stop()
        #expect(load.failures.isEmpty, "keep-alive load: \(load)")
        #expect(failed.isEmpty, "new connections: \(succeeded) succeeded, failures: \(failed.prefix(8))")
        let (drained, last) = h.waitForNoOldWorkers(timeout: 15)
        #expect(drained, "\(last?.raw ?? "")")
        h.expectNoWorkerCrash()
    }

    /// What replaces the binary on disk: not an executable at all, or one that
    /// starts and exits at once (as a binary missing a shared library does).
    enum Broken: String, CaseIterable, Sendable {
        case notExecutable
        case exitsAtOnce
    }

    @Test("a broken binary on disk: the reload reports failure, the same master and old workers keep serving",
          arguments: Broken.allCases)
    func brokenBinaryUpgrade(broken: Broken) throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let directory = NSTemporaryDirectory() + "weir-u-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let installed = directory + "/weir"
        _ = try copyBinary(weirBinaryPath(), to: installed)
        let h = try MasterHarness(config: masterConfig(server: backend.address), binary: installed)
        defer { h.close() }
        let port = try h.master.port(of: "fe")
        let before = try h.showProc()
        let held = try Client(port: port)
        defer { held.close() }
        #expect(echoes(held, "before"))

        let staged = directory + "/weir.new"
        switch broken {
        case .notExecutable: try Data(repeating: 0x5a, count: 4096).write(to: URL(fileURLWithPath: staged))
        case .exitsAtOnce: try "#!/bin/sh\nexit 1\n".write(toFile: staged, atomically: false, encoding: .utf8)
        }
        chmod(staged, 0o755)
        try #require(rename(staged, installed) == 0)

        let answer = try? h.cli("reload", timeout: 20)
        #expect(answer?.hasPrefix("Success=0") == true, "reload answered: \(answer ?? "nothing (connection lost)")")
        #expect(echoes(held, "after"), "the old generation's connection broke")
        #expect(connectAndEcho(port), "the old generation no longer serves")
        let after = try? h.showProc()
        #expect(after?.master.pid == h.pid && after.map { Set($0.workers.map(\.pid)) } == Set(before.workers.map(\.pid)),
                "\(after?.raw ?? "no show proc")")
        #expect(!h.master.hasExited, "the master is gone; \(h.output)")
    }
}
