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
