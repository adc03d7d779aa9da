import Foundation
import Testing

// `option external-check`: real shell scripts as the checks' programs. Each
// script's verdict comes from a file the test writes; what it was given
// (arguments, HAPROXY_* environment) goes to files the test reads.

/// A directory holding a check script and the files it reads and writes.
private struct CheckScript {
    let directory: String
    var script: String { directory + "/check.sh" }
    var statusFile: String { directory + "/status" }
    var argumentsFile: String { directory + "/arguments" }
    var environmentFile: String { directory + "/environment" }
    /// In the command line of the script and of what it starts, nowhere else.
    let marker: String

    /// `body` (given the status file's path) runs after the script has
    /// recorded its arguments and environment.
    init(body: (String) -> String) throws {
        marker = "extcheck-" + String(UUID().uuidString.prefix(8))
        directory = NSTemporaryDirectory() + marker
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "1\n".write(toFile: statusFile, atomically: true, encoding: .utf8)
        let text = """
            #!/bin/sh
            echo "$@" > \(argumentsFile).tmp && mv \(argumentsFile).tmp \(argumentsFile)
            env | grep -E '^(HAPROXY_|PATH=)' | sort > \(environmentFile).tmp && mv \(environmentFile).tmp \(environmentFile)
            \(body(statusFile))

            """
        try text.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
    }

    static func exitingWithStatusFile() throws -> CheckScript {
        try CheckScript { "exit $(cat \($0))" }
    }

    func setStatus(_ status: Int) throws {
        try "\(status)\n".write(toFile: statusFile, atomically: true, encoding: .utf8)
    }

    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// The pids of live processes whose command line contains `marker`.
private func processes(containing marker: String) -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.filter { entry in
        guard entry.allSatisfy(\.isNumber),
              let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return false }
        return String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).contains(marker)
    }
}

private func externalCheckConfig(socket: String, script: CheckScript, serverPort: UInt16, frontendPort: UInt16,
                                 global: String = "external-check\n    insecure-fork-wanted",
                                 options: String = "inter 100ms rise 1 fall 1", timeout: String = "timeout check 2s") -> String {
    """
    global
        \(global)
        stats socket \(socket) level admin
    defaults
        mode http
        timeout connect 1s
        timeout client 10s
        timeout server 10s
    listen app
        bind 127.0.0.1:\(frontendPort)
        \(timeout)
        option external-check
        external-check command \(script.script)
        external-check path "/usr/bin:/bin"
        server s1 127.0.0.1:\(serverPort) check \(options)

    """
}

@Suite("External checks", .serialized)
struct ExternalCheckTests {
    @Test("master mode: the script's exit status takes the server DOWN and UP, with its arguments and environment")
    func exitStatusDecides() throws {
        let script = try CheckScript.exitingWithStatusFile()
        defer { script.remove() }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let frontendPort = try freeLoopbackPort()
        let h = try MasterHarness(config: externalCheckConfig(socket: socket, script: script, serverPort: 9,
                                                              frontendPort: frontendPort))
        defer { h.close() }
        #expect(h.master.waitForCount(of: "Server app/s1 is DOWN, reason: External check error, code: 1", atLeast: 1,
                                      timeout: 10), "\(h.output)")
        let down = waitForStat(socket) { $0.text("app/s1", "status") == "DOWN" && $0.text("app/s1", "check_status") == "PROCERR" }
        #expect(down.ok, "\(down.table.map(\.description) ?? "no answer")")
        #expect(script.read(script.argumentsFile) == "127.0.0.1 \(frontendPort) 127.0.0.1 9\n")
        let environment = script.read(script.environmentFile).split(separator: "\n").map(String.init)
        #expect(environment == [
            "HAPROXY_PROXY_ADDR=127.0.0.1", "HAPROXY_PROXY_ID=1", "HAPROXY_PROXY_NAME=app",
            "HAPROXY_PROXY_PORT=\(frontendPort)", "HAPROXY_SERVER_ADDR=127.0.0.1", "HAPROXY_SERVER_CURCONN=0",
            "HAPROXY_SERVER_ID=1", "HAPROXY_SERVER_MAXCONN=0", "HAPROXY_SERVER_NAME=s1", "HAPROXY_SERVER_PORT=9",
            "HAPROXY_SERVER_PROTO=h1", "HAPROXY_SERVER_SSL=0", "PATH=/usr/bin:/bin",
        ], "\(environment)")

        try script.setStatus(0)
        #expect(h.master.waitForCount(of: "Server app/s1 is UP, reason: External check passed", atLeast: 1, timeout: 10),
                "\(h.output)")
        let up = waitForStat(socket) { $0.text("app/s1", "status") == "UP" && $0.text("app/s1", "check_status") == "PROCOK" }
        #expect(up.ok, "\(up.table.map(\.description) ?? "no answer")")
        try script.setStatus(3)
        #expect(h.master.waitForCount(of: "Server app/s1 is DOWN, reason: External check error, code: 3", atLeast: 1,
                                      timeout: 10), "\(h.output)")
        h.expectNoWorkerCrash()
    }

    @Test("-d: a script past 'timeout check' is killed with what it started, and the check fails (PROCTOUT)")
    func hangingScriptIsKilled() throws {
        let sleeper = "31.\(Int.random(in: 100_000...999_999))"
        let script = try CheckScript { _ in "sleep \(sleeper) &\nwait" }
        defer { script.remove() }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let weir = try WeirProcess.start(config: externalCheckConfig(
            socket: socket, script: script, serverPort: 9, frontendPort: try freeLoopbackPort(),
            options: "inter 200ms rise 1 fall 1", timeout: "timeout check 300ms"))
        defer { weir.stop() }
        let line = weir.stderr.waitForLine(timeout: 10) { $0.contains("Server app/s1 is DOWN") }
        #expect(line?.contains("reason: External check timeout") == true, "\(weir.stderr.text)")
        let table = waitForStat(socket) { $0.text("app/s1", "check_status") == "PROCTOUT" }
        #expect(table.ok, "\(table.table.map(\.description) ?? "no answer")")
        // What a check started is gone once it timed out; the next check starts its own.
        #expect(waitUntil(timeout: 5) { !processes(containing: sleeper).isEmpty })
        let started = Set(processes(containing: sleeper))
        #expect(waitUntil(timeout: 5) { Set(processes(containing: sleeper)).isDisjoint(with: started) },
                "\(started) still there")

        // Stopping ends the check under way with all it started.
        #expect(waitUntil(timeout: 5) { !processes(containing: script.marker).isEmpty })
        weir.signal(SIGTERM)
        #expect(weir.waitForExit(timeout: 10) == 0)
        #expect(waitUntil(timeout: 5) { processes(containing: script.marker).isEmpty && processes(containing: sleeper).isEmpty },
                "left: \(processes(containing: script.marker)) \(processes(containing: sleeper))")
    }

    @Test("master mode: a reload and a stop leave no check program behind")
    func reloadAndStopEndThePrograms() throws {
        let script = try CheckScript { _ in "sleep 30 &\nwait" }
        defer { script.remove() }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let config = externalCheckConfig(socket: socket, script: script, serverPort: 9, frontendPort: try freeLoopbackPort(),
                                         options: "inter 100ms", timeout: "timeout check 60s")
        let h = try MasterHarness(config: config)
        defer { h.close() }
        #expect(waitUntil(timeout: 10) { !processes(containing: script.marker).isEmpty })
        let first = Set(processes(containing: script.marker))
        let reload = try h.reload()
        #expect(reload.success, "\(reload.answer)")
        // The programs of the old image are gone; the new image runs its own.
        #expect(waitUntil(timeout: 10) { Set(processes(containing: script.marker)).isDisjoint(with: first) },
                "\(processes(containing: script.marker)) \(first)")
        #expect(waitUntil(timeout: 10) { !processes(containing: script.marker).isEmpty })
        h.master.signal(SIGTERM)
        #expect(h.master.waitForExit(timeout: 10) != nil)
        #expect(waitUntil(timeout: 5) { processes(containing: script.marker).isEmpty },
                "left: \(processes(containing: script.marker))")
    }

    @Test("configuration errors name the line and say what to add")
    func configurationErrors() throws {
        let script = try CheckScript.exitingWithStatusFile()
        defer { script.remove() }
        func check(_ global: String, command: String? = nil) throws -> (status: Int32, stderr: String, path: String) {
            var config = externalCheckConfig(socket: statsSocketPath(), script: script, serverPort: 9,
                                             frontendPort: 8080, global: global)
            if let command {
                config = config.replacingOccurrences(of: "external-check command \(script.script)",
                                                     with: "external-check command \(command)")
            }
            return try checkConfiguration(config)
        }
        // With one global line, line 12 is `option external-check`; with two,
        // line 13 is, and line 14 the command.
        var run = try check("insecure-fork-wanted")
        #expect(run.status == 1)
        #expect(run.stderr.contains("\(run.path):12:12: error: 'option external-check' in listen 'app' runs programs: "
                                    + "add 'external-check' to the 'global' section to allow it"), "\(run.stderr)")
        run = try check("external-check")
        #expect(run.status == 1)
        #expect(run.stderr.contains("\(run.path):12:12: error: 'option external-check' in listen 'app' runs programs: "
                                    + "add 'insecure-fork-wanted' to the 'global' section to allow it"), "\(run.stderr)")
        run = try check("external-check\n    insecure-fork-wanted", command: script.statusFile)
        #expect(run.status == 1)
        #expect(run.stderr.contains("\(run.path):14:28: error: external-check command: '\(script.statusFile)' is not "
                                    + "an executable file"), "\(run.stderr)")
        run = try check("external-check\n    insecure-fork-wanted", command: "no-such-check")
        #expect(run.stderr.contains("\(run.path):14:28: error: external-check command: 'no-such-check' is not an "
                                    + "executable file in the external-check path '/usr/bin:/bin'"), "\(run.stderr)")
        run = try check("external-check\n    insecure-fork-wanted")
        #expect(run.status == 0, "\(run.stderr)")
    }
}
