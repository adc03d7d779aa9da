import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The command line, startup checks, inherited sockets and signals.
@Suite("Startup and signals")
struct StartupScenarioTests {
    @Test("bind fd@3 adopts an inherited listening socket")
    func adoptInheritedSocket() throws {
        let backend = try Backend(.name("s1"))
        defer { backend.stop() }
        let listener = try Sock.listener()
        defer { close(listener) }
        let port = Sock.localPort(listener)
        let config = """
            global
                log stdout format raw local0
            frontend fe
                mode tcp
                log global
                option tcplog
                timeout client 10s
                bind fd@3
                default_backend be
            backend be
                mode tcp
                timeout connect 2s
                timeout server 10s
                server s1 \(backend.address)
            """
        let weir = try WeirProcess.start(config: config, inherit: listener)
        defer { weir.stop() }
        for _ in 0..<3 {
            let client = try Client(port: port)
            #expect(try client.readLine() == "s1")
            client.close()
            let line = try #require(weir.logLine(clientPort: client.localPort), "stdout: \(weir.stdout.text)")
            #expect(line.frontend == "fe" && line.server == "s1" && line.termination == "--")
        }
        #expect(backend.snapshot.accepted == 3)
    }

    @Test("bind fd@N of a descriptor that is not open fails at startup")
    func adoptMissingDescriptor() throws {
        let file = try TempFile("""
            frontend fe
                mode tcp
                bind fd@3
                timeout client 1s
                default_backend be
            backend be
                timeout connect 1s
                timeout server 1s
                server s1 127.0.0.1:1
            """)
        defer { file.remove() }
        let result = try WeirProcess.run(["-d", "-f", file.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("fd@3"), "stderr: \(result.stderr)")
    }

    @Test("a port already held by another process is refused", arguments: [false, true])
    func portAlreadyTaken(strangerUsesReusePort: Bool) throws {
        let stranger = try Sock.listener(reusePort: strangerUsesReusePort)
        defer { close(stranger) }
        let port = Sock.localPort(stranger)
        let file = try TempFile("""
            frontend fe
                mode tcp
                bind 127.0.0.1:\(port)
                timeout client 1s
                default_backend be
            backend be
                timeout connect 1s
                timeout server 1s
                server s1 127.0.0.1:1
            """)
        defer { file.remove() }
        let result = try WeirProcess.run(["-d", "-f", file.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("127.0.0.1:\(port)"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("address already in use"), "stderr: \(result.stderr)")
        #expect(!result.stderr.contains("Loading success"))
    }

    @Test("-c on a valid configuration: exit 0 and 'Configuration file is valid'")
    func checkValidConfig() throws {
        let file = try TempFile(tcpConfig(backend: "    balance leastconn\n    server s1 127.0.0.1:8080 weight 3 maxconn 10"))
        defer { file.remove() }
        let result = try WeirProcess.run(["-c", "-f", file.path])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout == "Configuration file is valid")
    }

    @Test("global 'zero-warning' makes a warning fatal as -dW does; 'quiet' silences warnings and the verdict")
    func zeroWarningAndQuiet() throws {
        // 'option httplog' in tcp mode is a warning.
        func config(_ global: String) -> String {
            tcpConfig(backend: "    server s1 127.0.0.1:8080", frontend: "    option httplog", global: global)
        }
        let strict = try TempFile(config("    zero-warning"))
        defer { strict.remove() }
        let refused = try WeirProcess.run(["-c", "-f", strict.path])
        #expect(refused.status != 0 && refused.stderr.contains("'zero-warning' makes them fatal"), "\(refused.stderr)")
        #expect(refused.stderr.contains("warning: 'option httplog' is ignored in tcp mode"), "\(refused.stderr)")

        let silent = try TempFile(config("    quiet"))
        defer { silent.remove() }
        let accepted = try WeirProcess.run(["-c", "-f", silent.path])
        #expect(accepted.status == 0 && accepted.stdout.isEmpty && accepted.stderr.isEmpty,
                "stdout: \(accepted.stdout) stderr: \(accepted.stderr)")
    }

    @Test("-c on a bad configuration prints every error with its line and a caret")
    func checkBadConfig() throws {
        let file = try TempFile("""
            global
                log stdout format raw local0

            defaults
                mode tcp
                timout connect 5s
                timeout connect 5x

            frontend fe
                bind 127.0.0.1:8443
                stick-table type ip size 1m store http_req_rate
                default_backend be

            backend be
                server s1 127.0.0.1:8080
            """)
        defer { file.remove() }
        let result = try WeirProcess.run(["-c", "-f", file.path])
        #expect(result.status == 1)
        #expect(!result.stdout.contains("valid"))
        let p = file.path
        let expected: [[String]] = [
            ["\(p):6:5: error: unknown keyword 'timout' in 'defaults' section; did you mean 'timeout'?",
             "    timout connect 5s",
             "    ^"],
            ["\(p):7:21: error: timeout connect: expected a duration like 5s, got '5x'",
             "    timeout connect 5x",
             "                    ^"],
            ["\(p):11:39: error: stick-table store: 'http_req_rate' needs a period, as in http_req_rate(10s)",
             "    stick-table type ip size 1m store http_req_rate",
             "                                      ^"],
        ]
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var from = 0
        for block in expected {
            let found = (from..<max(from, lines.count - block.count + 1)).first { Array(lines[$0..<$0 + block.count]) == block }
            #expect(found != nil, "missing, in order:\n\(block.joined(separator: "\n"))\n--- stderr:\n\(result.stderr)")
            if let found { from = found + block.count }
        }
        #expect(lines.filter { $0.contains(": error: ") }.count == 3, "stderr:\n\(result.stderr)")
        #expect(lines.last { !$0.isEmpty } == "Fatal errors found in configuration (3 errors).")
    }

    @Test("-c reports an unknown section with a suggestion")
    func checkUnknownSection() throws {
        let file = try TempFile("frontned fe\n    bind 127.0.0.1:0\n")
        defer { file.remove() }
        let result = try WeirProcess.run(["-c", "-f", file.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(file.path):1:1: error: unknown section 'frontned'; did you mean 'frontend'?\nfrontned fe\n^"),
                "stderr:\n\(result.stderr)")
    }

    @Test("-v prints the version, -vv the build details")
    func versionFlags() throws {
        let v = try WeirProcess.run(["-v"])
        #expect(v.status == 0)
        #expect(v.stdout.hasPrefix("Weir version "), "stdout: \(v.stdout)")
        let vv = try WeirProcess.run(["-vv"])
        #expect(vv.status == 0)
        #expect(vv.stdout.hasPrefix("Weir version "), "stdout: \(vv.stdout)")
        #expect(vv.stdout.contains("Swift"))
        #expect(vv.stdout.contains("OpenSSL"))
    }

    @Test("an unknown flag prints the usage and exits 1")
    func unknownFlag() throws {
        let result = try WeirProcess.run(["-x", "-f", "/nonexistent.cfg"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("unknown option '-x'"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("Usage: weir"), "stderr: \(result.stderr)")
    }

    @Test("-p writes the pid file")
    func pidFile() throws {
        let backend = try Backend(.echo)
        defer { backend.stop() }
        let pidFile = try TempFile("", name: "weir.pid")
        defer { pidFile.remove() }
        let weir = try WeirProcess.start(config: tcpConfig(backend: "    server s1 \(backend.address)"),
                                         extraArguments: ["-p", pidFile.path])
        defer { weir.stop() }
        let text = try String(contentsOfFile: pidFile.path, encoding: .utf8)
        #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == "\(weir.pid)")
    }

    @Test("SIGUSR1 soft stop: new connections refused, an established one finishes, then exit 0")
    func softStop() throws {
        let backend = try Backend(.echo)
        let scenario = try Scenario(config: tcpConfig(backend: "    server s1 \(backend.address)"), backends: [backend])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        try client.send("before\n")
        #expect(try client.readLine() == "before")

        scenario.weir.signal(SIGUSR1)
        #expect(scenario.weir.stderr.waitForLine { $0.contains("Soft stop") } != nil, "stderr: \(scenario.weir.stderr.text)")
        // The listener is closed as the notice is printed: connects are refused from then on.
        #expect(waitUntil(timeout: 5) { Sock.isRefused(port: scenario.port) })
        #expect(Sock.isRefused(port: scenario.port))
        // The established connection still works, and the process waits for it.
        try client.send("after\n")
        #expect(try client.readLine() == "after")
        #expect(scenario.weir.waitForExit(timeout: 0.2) == nil, "exited with a connection still open")
        client.close()
        let status = scenario.weir.waitForExit(timeout: 10)
        #expect(status == 0)
        scenario.weir.stderr.waitForClose(timeout: 5)
        #expect(scenario.weir.stderr.lines.contains { $0.contains("Proxy fe stopped (cumulated conns: FE: 1).") },
                "stderr: \(scenario.weir.stderr.text)")
        let line = try scenario.log(of: client)
        #expect(line.termination == "--", "\(line)")
    }

    @Test("SIGTERM and SIGINT stop at once with exit 0, even with a connection open",
          arguments: [SIGTERM, SIGINT])
    func hardStop(signal: Int32) throws {
        let backend = try Backend(.echo)
        let scenario = try Scenario(config: tcpConfig(backend: "    server s1 \(backend.address)"), backends: [backend])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        try client.send("x\n")
        #expect(try client.readLine() == "x")
        scenario.weir.signal(signal)
        #expect(scenario.weir.waitForExit(timeout: 10) == 0)
        // The client's connection died with the process.
        let (_, end) = client.readToEnd()
        #expect(end.isClosed, "ended with \(end)")
    }
}
