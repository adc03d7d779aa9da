import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A server that plays one exchange on every connection it accepts (reads
/// of known sizes, lines, writes), recording what each sent. The exchange
/// may be replaced between connections.
final class ScriptedServer: @unchecked Sendable {
    enum Step: Sendable {
        case read(Int)
        case readLine
        case write([UInt8])
    }

    let port: UInt16
    private let listenFD: Int32
    private let script: Mutex<[Step]>
    private let stopFlag = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let received = Mutex<[[UInt8]]>([])
    private let peerAddresses = Mutex<[String]>([])

    var address: String { "127.0.0.1:\(port)" }
    /// What each connection sent, in the order they came.
    var requests: [[UInt8]] { received.withLock { $0 } }
    /// The address each connection came from, in the order they came.
    var peers: [String] { peerAddresses.withLock { $0 } }

    init(_ script: [Step]) throws {
        self.script = Mutex(script)
        listenFD = try Sock.listener()
        port = Sock.localPort(listenFD)
        let thread = Thread { [self] in run() }
        thread.start()
    }

    /// What the next connections get.
    func replaceScript(_ steps: [Step]) { script.withLock { $0 = steps } }

    func stop() {
        guard !stopFlag.exchange(true, ordering: .acquiringAndReleasing) else { return }
        _ = finished.wait(timeout: .now() + 5)
        close(listenFD)
    }

    private func run() {
        defer { finished.signal() }
        while !stopFlag.load(ordering: .acquiring) {
            var p = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0 else { continue }
            var peer = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let fd = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listenFD, $0, &length) }
            }
            guard fd >= 0 else { continue }
            var text = [CChar](repeating: 0, count: 32)
            _ = inet_ntop(AF_INET, &peer.sin_addr, &text, 32)
            peerAddresses.withLock { $0.append(String(cString: text)) }
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            received.withLock { $0.append(play(fd)) }
            close(fd)
        }
    }

    /// Runs the script on one connection; what it read.
    private func play(_ fd: Int32) -> [UInt8] {
        var got: [UInt8] = []
        for step in script.withLock({ $0 }) {
            switch step {
            case .write(let bytes):
                guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else { return got }
            case .read(let count):
                let start = got.count
                while got.count - start < count, let byte = readByte(fd) { got.append(byte) }
            case .readLine:
                while let byte = readByte(fd) {
                    got.append(byte)
                    if byte == 10 { break }
                }
            }
        }
        return got
    }

    private func readByte(_ fd: Int32) -> UInt8? {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 1 ? byte : nil
    }
}

/// `option redis-check`, `smtpchk`, `pgsql-check`, `mysql-check`,
/// `ldap-check` and `tcp-check expect rbinary`, against servers that speak
/// the first bytes of each protocol.
@Suite("Health checks: protocol checks", .serialized)
struct ProtocolCheckTests {
    private static let mysqlGreeting: [UInt8] = [0x0E, 0x00, 0x00, 0x00, 0x0A] + Array("8.0.36".utf8) + [0, 1, 0, 0, 0, 0, 0, 0]
    private static let ldapBound: [UInt8] = [0x30, 0x0C, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0A, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00]

    @Test("each protocol's healthy answer passes and its failure marks the server down; the requests are the protocol's")
    func protocolChecks() throws {
        let pgStartupLength = 4 + 4 + 5 + 5 + 1
        let cases: [(name: String, option: String, script: [ScriptedServer.Step], passes: Bool)] = [
            ("redis_ok", "option redis-check", [.read(14), .write(Array("+PONG\r\n".utf8))], true),
            ("redis_loading", "option redis-check", [.read(14), .write(Array("-LOADING\r\n".utf8))], false),
            ("smtp_ok", "option smtpchk EHLO weir.test",
             [.write(Array("220 mail ESMTP\r\n".utf8)), .readLine, .write(Array("250-mail\r\n250 SIZE 1000\r\n".utf8)), .readLine], true),
            ("smtp_busy", "option smtpchk", [.write(Array("421 busy\r\n".utf8))], false),
            ("pgsql_ok", "option pgsql-check user weir", [.read(pgStartupLength), .write([0x52, 0, 0, 0, 8, 0, 0, 0, 5, 1, 2, 3, 4])], true),
            ("pgsql_refused", "option pgsql-check user weir",
             [.read(pgStartupLength), .write([0x45, 0, 0, 0, 12] + Array("SFATAL\0R\0\0".utf8))], false),
            ("mysql_greeting", "option mysql-check", [.write(Self.mysqlGreeting)], true),
            ("mysql_blocked", "option mysql-check", [.write([0x07, 0, 0, 0, 0xFF, 0x69, 0x04] + Array("Host".utf8))], false),
            ("mysql_login", "option mysql-check user weir",
             [.write(Self.mysqlGreeting), .read(4 + 32 + 5 + 1), .write([7, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0]), .read(5)], true),
            ("mysql_denied", "option mysql-check user weir",
             [.write(Self.mysqlGreeting), .read(4 + 32 + 5 + 1), .write([5, 0, 0, 2, 0xFF, 0x15, 0x04, 0x23, 0x32])], false),
            ("ldap_ok", "option ldap-check", [.read(14), .write(Self.ldapBound)], true),
            ("ldap_long_lengths", "option ldap-check",
             [.read(14), .write([0x30, 0x84, 0, 0, 0, 0x10, 0x02, 0x01, 0x01, 0x61, 0x84, 0, 0, 0, 0x07, 0x0A, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00])], true),
            ("ldap_invalid_credentials", "option ldap-check",
             [.read(14), .write([0x30, 0x0C, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0A, 0x01, 0x31, 0x04, 0x00, 0x04, 0x00])], false),
            ("rbinary", "option tcp-check\n    tcp-check expect rbinary ^[0-9A-F]{6}000A",
             [.write(Self.mysqlGreeting)], true),
        ]
        var servers: [String: ScriptedServer] = [:]
        defer { servers.values.forEach { $0.stop() } }
        var sections = ""
        for c in cases {
            let server = try ScriptedServer(c.script)
            servers[c.name] = server
            sections += """

                backend \(c.name)
                    \(c.option)
                    option log-health-checks
                    timeout check 500ms
                    server s1 \(server.address) check inter 100ms
                """
        }
        let fallback = try Backend(.echo)
        defer { fallback.stop() }
        let weir = try WeirProcess.start(config: tcpConfig(backend: "    server s1 \(fallback.address)") + sections)
        defer { weir.stop() }
        for c in cases {
            let verdict = c.passes ? "Health check for server \(c.name)/s1 succeeded" : "Server \(c.name)/s1 is DOWN"
            #expect(weir.stderr.waitForLine(timeout: 10) { $0.contains(verdict) } != nil,
                    "\(c.name): no '\(verdict)'; stderr:\n\(weir.stderr.text)")
            if c.passes { #expect(!weir.stderr.lines.contains { $0.contains("Server \(c.name)/s1 is DOWN") }, "\(c.name)") }
        }
        let redis = try #require(servers["redis_ok"]?.requests.first)
        #expect(redis == Array("*1\r\n$4\r\nPING\r\n".utf8))
        let smtp = try #require(servers["smtp_ok"]?.requests.first)
        #expect(String(decoding: smtp, as: UTF8.self) == "EHLO weir.test\r\nQUIT\r\n")
        let startup = try #require(servers["pgsql_ok"]?.requests.first)
        #expect(startup == [0, 0, 0, 19, 0, 3, 0, 0] + Array("user\0weir\0\0".utf8))
        let login = try #require(servers["mysql_login"]?.requests.first)
        #expect(login.count == 47 && Array(login[0..<4]) == [38, 0, 0, 1] && Array(login[36..<41]) == Array("weir".utf8) + [0],
                "\(login)")
        #expect(Array(login[42...]) == [1, 0, 0, 0, 1], "the QUIT packet follows the login")
    }
}
