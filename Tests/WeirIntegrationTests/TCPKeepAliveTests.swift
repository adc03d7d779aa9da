import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

private let ssPath = ["/usr/bin/ss", "/bin/ss", "/usr/sbin/ss"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// The kernel's keep-alive timer of the established loopback socket from
/// `localPort` to `peerPort`, in seconds, as `ss -o` shows it
/// (`timer:(keepalive,1min16sec,0)`); nil when the socket has no
/// keep-alive timer, or is not found.
private func keepAliveTimer(localPort: UInt16, peerPort: UInt16) throws -> Double? {
    let run = try runTool(try #require(ssPath), ["-tnoH", "state", "established"])
    for line in run.stdout.split(separator: "\n") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 4, fields[2].hasSuffix(":\(localPort)"), fields[3].hasSuffix(":\(peerPort)") else { continue }
        guard let start = line.range(of: "timer:(keepalive,") else { return nil }
        let value = line[start.upperBound...].prefix { $0 != "," }
        var seconds = 0.0
        var number = ""
        var rest = Substring(value)
        while let c = rest.first {
            if c.isNumber || c == "." {
                number.append(c)
                rest = rest.dropFirst()
            } else if rest.hasPrefix("min") {
                seconds += (Double(number) ?? 0) * 60
                number = ""
                rest = rest.dropFirst(3)
            } else if rest.hasPrefix("sec") {
                seconds += Double(number) ?? 0
                number = ""
                rest = rest.dropFirst(3)
            } else if rest.hasPrefix("ms") {
                seconds += (Double(number) ?? 0) / 1000
                number = ""
                rest = rest.dropFirst(2)
            } else {
                return nil
            }
        }
        return seconds
    }
    return nil
}

/// `option tcpka`/`clitcpka`/`srvtcpka` and `clitcpka-idle`/`srvtcpka-idle`:
/// seen from outside, as the kernel's keep-alive timer on weir's sockets.
@Suite("TCP keep-alive", .serialized, .enabled(if: ssPath != nil))
struct TCPKeepAliveTests {
    @Test("option tcpka in defaults: client and server sockets probe after their idle times; no option clitcpka turns it off")
    func keepAliveTimers() throws {
        let server = try Backend(.nameThenHold("s1"))
        let backendPort = try #require(UInt16(server.address.split(separator: ":").last!))
        let s = try Scenario(config: tcpConfig(backend: """
                server s1 \(server.address)
            frontend plain
                bind 127.0.0.1:0
                no option clitcpka
                default_backend be
            """, defaults: """
                option tcpka
                clitcpka-idle 77
                clitcpka-cnt 4
                clitcpka-intvl 10s
                srvtcpka-idle 99s
            """), backends: [server])
        defer { s.close() }

        let client = try Client(port: s.port)
        defer { client.close() }
        #expect(try client.readLine() == "s1")
        let clientSide = try keepAliveTimer(localPort: s.port, peerPort: client.localPort)
        #expect(clientSide.map { $0 > 60 && $0 <= 77 } == true, "client side timer: \(String(describing: clientSide))")
        // Weir's connection to the server: the only one to the backend's port.
        let run = try runTool(try #require(ssPath), ["-tnoH", "state", "established", "( dport = :\(backendPort) )"])
        let weirPort = try #require(run.stdout.split(separator: "\n").first.flatMap {
            $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).first?.split(separator: ":").last
        }.flatMap { UInt16($0) }, "\(run.stdout)")
        let serverSide = try keepAliveTimer(localPort: weirPort, peerPort: backendPort)
        #expect(serverSide.map { $0 > 77 && $0 <= 99 } == true, "server side timer: \(String(describing: serverSide))")

        let plainPort = try s.weir.port(of: "plain")
        let other = try Client(port: plainPort)
        defer { other.close() }
        #expect(try other.readLine() == "s1")
        #expect(try keepAliveTimer(localPort: plainPort, peerPort: other.localPort) == nil)
    }
}
