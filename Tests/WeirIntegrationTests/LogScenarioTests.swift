import Foundation
import Testing

@Suite("Logs")
struct LogScenarioTests {
    @Test("a log reader that stalls does not stall the proxy: lines are dropped and counted")
    func stalledLogReader() throws {
        let backend = try Backend(.name("s1"))
        let scenario = try Scenario(config: tcpConfig(backend: serverLines([backend])), backends: [backend])
        defer { scenario.close() }
        let first = try Client(port: scenario.port)
        #expect(try first.readLine() == "s1")
        first.close()
        _ = try scenario.log(of: first)
        scenario.weir.stdout.pause()
        // Far more log bytes than the pipe (64 KiB) and Weir's pending buffer
        // (64 KiB) can hold while nobody reads them.
        for _ in 0..<3000 {
            try #require(try askName(scenario.port) == "s1")
        }
        scenario.weir.stdout.resume()
        scenario.weir.signal(SIGUSR1)
        #expect(scenario.weir.waitForExit(timeout: 20) == 0)
        #expect(scenario.weir.stderr.waitForLine { $0.contains("log lines were dropped: the log reader was too slow") } != nil)
    }
}
