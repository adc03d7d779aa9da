import Foundation
import Testing

/// `source` and `tune.rcvbuf.*`/`tune.sndbuf.*`: what the sockets Weir opens
/// look like from the other end.
@Suite("source and socket buffers", .serialized)
struct SourceAddressTests {
    @Test("traffic starts from the backend's source, checks from the server's own")
    func sourceAddresses() throws {
        // Any address of 127.0.0.0/8 is this host's on Linux.
        let traffic = try ScriptedServer([.write(Array("hello\n".utf8)), .readLine])
        let checked = try ScriptedServer([])
        defer { traffic.stop(); checked.stop() }
        let weir = try WeirProcess.start(config: tcpConfig(backend: """
                source 127.0.0.2
                server s1 \(traffic.address)
                server s2 \(checked.address) check inter 100ms source 127.0.0.3:0 backup
            """))
        defer { weir.stop() }
        let client = try Client(port: try weir.port(of: "fe"))
        defer { client.close() }
        #expect(try client.readLine() == "hello")
        #expect(traffic.peers.first == "127.0.0.2", "\(traffic.peers)")
        #expect(waitUntil(timeout: 10) { !checked.peers.isEmpty })
        #expect(checked.peers.allSatisfy { $0 == "127.0.0.3" }, "\(checked.peers)")
    }

    @Test("tune.rcvbuf.server and tune.sndbuf.client size the sockets (the kernel doubles what it is given)")
    func bufferSizes() throws {
        let server = try ScriptedServer([.write(Array("hello\n".utf8)), .readLine])
        defer { server.stop() }
        let weir = try WeirProcess.start(config: tcpConfig(backend: "    server s1 \(server.address)",
                                                           global: "    tune.rcvbuf.server 32768\n    tune.sndbuf.client 49152"))
        defer { weir.stop() }
        let port = try weir.port(of: "fe")
        let client = try Client(port: port)
        defer { client.close() }
        #expect(try client.readLine() == "hello")
        // The proxy's socket towards the server, and the one it accepted.
        func memory(_ filter: String) throws -> String {
            let run = try runTool("/usr/bin/env", ["ss", "-tnmH", "state", "established", filter], timeout: 10)
            return run.stdout
        }
        let towardsServer = try memory("dport = :\(server.port)")
        #expect(towardsServer.contains("rb65536"), "\(towardsServer)")
        let accepted = try memory("sport = :\(port)")
        #expect(accepted.contains("tb98304"), "\(accepted)")
    }
}
