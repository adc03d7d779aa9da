import Foundation
import Testing

@Suite("Signals")
struct SignalScenarioTests {
    /// A soft stop and a waiting connection reported in the same event batch:
    /// the listener closed by the stop must not then be accepted from.
    @Test("a soft stop with a connection waiting in the same tick exits cleanly")
    func softStopWithAPendingConnection() throws {
        let backend = try Backend(.name("s1"))
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: tcpConfig(backend: serverLines([backend])))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        // Frozen, Weir sees the signal and then the connection when it resumes.
        weir.signal(SIGSTOP)
        weir.signal(SIGUSR1)
        let client = try Client(port: port)
        defer { client.close() }
        weir.signal(SIGCONT)
        #expect(weir.waitForExit(timeout: 20) == 0)
        #expect(!weir.stderr.text.contains("Fatal error"), "\(weir.stderr.text)")
    }
}

@Suite("Limits")
struct LimitScenarioTests {
    @Test("a file-descriptor limit that cannot be reached stops startup with a clear error")
    func unreachableFileLimit() throws {
        let backend = try Backend(.name("s1"))
        defer { backend.stop() }
        // Far above any kernel's nr_open: setrlimit must refuse it, root or not.
        let file = try TempFile(tcpConfig(backend: serverLines([backend]), global: "    ulimit-n 1073741824"))
        defer { file.remove() }
        let result = try WeirProcess.run(["-d", "-f", file.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot raise the file-descriptor limit to 1073741824"), "\(result.stderr)")
    }

    @Test("'no strict-limits': a file-descriptor limit that cannot be reached is a warning, and Weir serves")
    func unreachableFileLimitWithoutStrictLimits() throws {
        let backend = try Backend(.name("s1"))
        defer { backend.stop() }
        let weir = try WeirProcess.start(config: tcpConfig(backend: serverLines([backend]),
                                                            global: "    ulimit-n 1073741824\n    no strict-limits"))
        defer { weir.stop() }
        #expect(weir.stderr.lines.contains { $0.contains("[WARNING]") && $0.contains("cannot raise the file-descriptor limit to 1073741824") },
                "\(weir.stderr.text)")
        let client = try Client(port: try weir.port(of: "fe"))
        defer { client.close() }
        #expect(try client.readLine() == "s1")
    }
}
