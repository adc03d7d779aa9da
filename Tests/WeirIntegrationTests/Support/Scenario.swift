import Foundation
import Testing

/// A `mode tcp` configuration with tcplog on stdout: frontend `fe` on an
/// ephemeral loopback port, backend `be` with the given lines.
func tcpConfig(backend: String, frontend: String = "", defaults: String = "", global: String = "") -> String {
    """
    global
        log stdout format raw local0
    \(global)

    defaults
        mode tcp
        log global
        option tcplog
        timeout connect 2s
        timeout client 30s
        timeout server 30s
    \(defaults)

    frontend fe
        bind 127.0.0.1:0
        default_backend be
    \(frontend)

    backend be
    \(backend)
    """
}

/// `server` lines for the backends, named s1, s2, … with per-server extras.
func serverLines(_ backends: [Backend], extras: [String] = []) -> String {
    backends.enumerated().map { i, b in
        "    server s\(i + 1) \(b.address)" + (i < extras.count && !extras[i].isEmpty ? " " + extras[i] : "")
    }.joined(separator: "\n")
}

/// Connects once, reads the server's one-line answer, then waits for the end.
func askName(_ port: UInt16, source: String? = nil) throws -> String {
    let client = try Client(port: port, source: source)
    defer { client.close() }
    return try client.readLine()
}

/// A scenario: a `weir` plus its backends, all stopped by `close()`.
final class Scenario: @unchecked Sendable {
    let weir: WeirProcess
    let backends: [Backend]
    let port: UInt16

    init(config: String, backends: [Backend]) throws {
        self.backends = backends
        do {
            weir = try WeirProcess.start(config: config)
        } catch {
            for b in backends { b.stop() }
            throw error
        }
        do {
            port = try weir.port(of: "fe")
        } catch {
            weir.stop()
            for b in backends { b.stop() }
            throw error
        }
    }

    func close() {
        weir.stop()
        for b in backends { b.stop() }
    }

    /// The tcplog line of `client`'s connection, or a recorded failure.
    func log(of client: Client, timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) throws -> TCPLogLine {
        try log(clientPort: client.localPort, timeout: timeout, sourceLocation: sourceLocation)
    }

    func log(clientPort: UInt16, clientAddress: String? = nil, timeout: Double = 10,
             sourceLocation: SourceLocation = #_sourceLocation) throws -> TCPLogLine {
        try #require(weir.logLine(clientPort: clientPort, clientAddress: clientAddress, timeout: timeout),
                     "no tcplog line for client port \(clientPort); stdout:\n\(weir.stdout.text)\nstderr:\n\(weir.stderr.text)",
                     sourceLocation: sourceLocation)
    }
}
