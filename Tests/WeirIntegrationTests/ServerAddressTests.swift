import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A master with a stats socket, a `resolvers` section if given, and backend `be` with `servers`.
func addressConfig(socket: String, resolvers: String? = nil, servers: String) -> String {
    var text = """
        global
            nbthread 2
            stats socket \(socket) level admin

        """
    if let resolvers { text += resolvers + "\n" }
    text += """
        defaults
            mode tcp
            timeout connect 500ms
            timeout client 30s
            timeout server 30s

        frontend fe
            bind 127.0.0.1:0
            default_backend be

        backend be
            retries 0
        \(servers)
        """
    return text
}

/// Asks until `name` answers (bounded), for the workers to apply a change.
func waitForName(_ port: UInt16, _ name: String, timeout: Double = 10) -> Bool {
    waitUntil(timeout: timeout) { (try? askName(port)) == name }
}

/// `show servers state` rows by `backend/server`: (srv_addr, srv_admin_state, srv_port).
func serverStates(_ socket: String) -> [String: (address: String, admin: Int, port: String)] {
    guard let text = try? statsCommand(socket, "show servers state") else { return [:] }
    var rows: [String: (String, Int, String)] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        let f = line.split(separator: " ").map(String.init)
        guard f.count > 18 else { continue }
        rows[f[1] + "/" + f[3]] = (f[4], Int(f[6]) ?? -1, f[18])
    }
    return rows
}

@Suite("Server addresses at run time", .serialized)
struct ServerAddressTests {
    @Test("set server addr moves the traffic, answers as HAProxy, and show servers state shows the address")
    func setServerAddr() throws {
        let first = try Backend(.name("first"))
        let second = try Backend(.name("second"))
        defer {
            first.stop()
            second.stop()
        }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let harness = try MasterHarness(config: addressConfig(socket: socket,
                                                              servers: "    server s1 \(first.address)"))
        defer { harness.close() }
        let port = try harness.master.port(of: "fe")
        #expect(try askName(port) == "first")
        let answer = try statsCommand(socket, "set server be/s1 addr 127.0.0.1 port \(second.port)")
        #expect(answer.hasPrefix("no need to change the addr, port changed from '\(first.port)' to '\(second.port)' "
                                 + "by 'stats socket command'"), "\(answer)")
        #expect(waitForName(port, "second"))
        for _ in 0..<20 { #expect(try askName(port) == "second") }
        let state = serverStates(socket)["be/s1"]
        #expect(state?.address == "127.0.0.1" && state?.port == String(second.port), "\(String(describing: state))")
        let again = try statsCommand(socket, "set server be/s1 addr 127.0.0.1")
        #expect(again.hasPrefix("no need to change the addr"), "\(again)")
        let bad = try statsCommand(socket, "set server be/s1 addr nowhere")
        #expect(bad.hasPrefix("set server <b>/<s> addr requires an address"), "\(bad)")
        harness.expectNoWorkerCrash()
    }

    @Test("http-reuse always: after set server addr no request reuses a pooled connection to the old address")
    func pooledConnectionsFollow() throws {
        let first = try HTTPBackend(name: "first")
        let second = try HTTPBackend(name: "second")
        defer {
            first.stop()
            second.stop()
        }
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let config = addressConfig(socket: socket, servers: """
                mode http
                http-reuse always
                server s1 \(first.address)
            """).replacingOccurrences(of: "nbthread 2", with: "nbthread 1")
            .replacingOccurrences(of: "frontend fe\n", with: "frontend fe\n    mode http\n")
        let harness = try MasterHarness(config: config)
        defer { harness.close() }
        let port = try harness.master.port(of: "fe")
        for _ in 0..<3 {
            let r = try curlRequest(port: port, "/before")
            #expect(r.status == 200 && r.body == "first GET /before\n", "\(r)")
        }
        #expect(first.accepted == 1, "one server connection, pooled and reused")
        let answer = try statsCommand(socket, "set server be/s1 addr 127.0.0.1 port \(second.port)")
        #expect(answer.contains("by 'stats socket command'"), "\(answer)")
        for _ in 0..<3 {
            let r = try curlRequest(port: port, "/after")
            #expect(r.status == 200 && r.body == "second GET /after\n", "\(r)")
        }
        #expect(first.requests.filter { $0.target == "/after" }.isEmpty)
        #expect(waitUntil(timeout: 10) { first.openConnections == 0 }, "the pooled connection was closed")
        harness.expectNoWorkerCrash()
    }

    @Test("health checks follow the address: DOWN at a closed port, UP again at a live one")
    func checksFollow() throws {
        let first = try Backend(.name("first"))
        let second = try Backend(.name("second"))
        defer {
            first.stop()
            second.stop()
        }
        let closed = try freeLoopbackPort()
        let socket = statsSocketPath()
        defer { unlink(socket) }
        let harness = try MasterHarness(config: addressConfig(socket: socket, servers: """
                server s1 \(first.address) check inter 100ms rise 1 fall 1
            """))
        defer { harness.close() }
        let port = try harness.master.port(of: "fe")
        #expect(try askName(port) == "first")
        _ = try statsCommand(socket, "set server be/s1 addr 127.0.0.1 port \(closed)")
        let down = harness.master.stderr.waitForLine(timeout: 10) { $0.contains("Server be/s1 is DOWN") }
        #expect(down != nil, "stderr:\n\(harness.master.stderr.text)")
        _ = try statsCommand(socket, "set server be/s1 addr 127.0.0.1 port \(second.port)")
        let up = harness.master.stderr.waitForLine(timeout: 10) { $0.contains("Server be/s1 is UP") }
        #expect(up != nil, "stderr:\n\(harness.master.stderr.text)")
        #expect(waitForName(port, "second"))
        harness.expectNoWorkerCrash()
    }
}
