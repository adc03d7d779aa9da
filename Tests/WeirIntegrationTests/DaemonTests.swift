import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `daemon` and -D: the command returns once Weir serves, and the master runs
/// on in the background, in a session of its own, away from the terminal.
@Suite("Daemon mode", .serialized)
struct DaemonTests {
    @Test("'daemon': weir returns 0 once it serves; the master in the pidfile is in its own session and serves until SIGTERM")
    func daemonKeyword() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let pidfile = try TempFile("", name: "weir.pid")
        defer { pidfile.remove() }
        let config = try TempFile(masterConfig(server: backend.address, global: "    daemon\n    pidfile \(pidfile.path)"))
        defer { config.remove() }
        let launcher = try WeirProcess(arguments: ["-f", config.path])
        defer { launcher.stop() }
        #expect(launcher.waitForExit(timeout: 30) == 0, "\(launcher.stderr.text)")
        // Its startup messages reached the launcher's stderr, then every
        // process let go of it: the workers did not inherit the terminal.
        #expect(launcher.stderr.waitForClose(timeout: 10), "a process still holds the launcher's stderr")
        #expect(launcher.stderr.lines.contains { $0.contains("Loading success.") }, "\(launcher.stderr.text)")

        let text = try String(contentsOfFile: pidfile.path, encoding: .utf8)
        let master = try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), "pidfile: '\(text)'")
        defer { kill(master, SIGKILL) }
        #expect(master != launcher.pid)
        #expect(kill(master, 0) == 0, "the daemon is not running")
        #expect(getsid(master) == master, "the daemon leads a session of its own")
        #expect(parentPID(of: master) != getpid())

        let port = try launcher.port(of: "fe")
        for i in 0..<5 { #expect(connectAndEcho(port, "daemon \(i)")) }

        kill(master, SIGTERM)
        #expect(waitUntil(timeout: 20) { kill(master, 0) != 0 }, "the daemon did not stop on SIGTERM")
        #expect(!connectAndEcho(port), "a worker outlived the daemon's master")
    }

    @Test("-D with a listening port that is taken: weir exits 1 and says why, no daemon is left")
    func failedStartIsReported() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let pidfile = try TempFile("", name: "weir.pid")
        defer { pidfile.remove() }
        // The backend's own address: taken, by a socket that shares it with no one.
        let config = try TempFile(masterConfig(server: backend.address, binds: [backend.address],
                                               global: "    pidfile \(pidfile.path)"))
        defer { config.remove() }
        let result = try WeirProcess.run(["-D", "-f", config.path])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("[ALERT]"), "\(result.stderr)")
        let text = (try? String(contentsOfFile: pidfile.path, encoding: .utf8)) ?? ""
        if let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            #expect(waitUntil(timeout: 10) { kill(pid, 0) != 0 }, "the failed daemon \(pid) is still running")
        }
    }

    @Test("'daemon' with -db, -d or -Ws: Weir stays in the foreground, as HAProxy does")
    func foregroundFlagsWin() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let config = try TempFile(masterConfig(server: backend.address, global: "    daemon"))
        defer { config.remove() }
        for flags in [["-db", "-W"], ["-d"], ["-Ws"]] {
            let weir = try WeirProcess(arguments: flags + ["-f", config.path])
            defer { weir.stop() }
            #expect(weir.stderr.waitForLine(timeout: 30) { $0.contains("Loading success.") } != nil,
                    "weir \(flags): \(weir.stderr.text)")
            #expect(weir.waitForExit(timeout: 0) == nil, "weir \(flags) went away")
            #expect(connectAndEcho(try weir.port(of: "fe")), "weir \(flags): \(weir.stderr.text)")
        }
    }
}
