import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A datagram socket the test binds (UDP on 127.0.0.1, or AF_UNIX) to play
/// the syslog server, read with a bounded wait.
private final class SyslogReceiver: @unchecked Sendable {
    let fd: Int32
    /// What a `log` line names: `127.0.0.1:PORT` or `unix@PATH`.
    let address: String
    private let path: String?

    /// UDP on an ephemeral loopback port.
    init() throws {
        let socket = try SyslogReceiver.socket(family: AF_INET)
        do { try Sock.bind(socket, host: "127.0.0.1", port: 0) } catch {
            close(socket)
            throw error
        }
        fd = socket
        address = "127.0.0.1:\(Sock.localPort(socket))"
        path = nil
    }

    /// AF_UNIX datagram at `path`.
    init(unixPath: String) throws {
        let socket = try SyslogReceiver.socket(family: AF_UNIX)
        var sun = sockaddr_un()
        sun.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &sun.sun_path) { $0.copyBytes(from: Array(unixPath.utf8)) }
        let result = withUnsafePointer(to: &sun) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if result != 0 {
            let failure = Sock.Failure(call: "bind \(unixPath)", code: errno)
            close(socket)
            throw failure
        }
        fd = socket
        address = "unix@\(unixPath)"
        path = unixPath
    }

    private static func socket(family: Int32) throws -> Int32 {
        try Sock.check(Glibc.socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0), "socket")
    }

    deinit {
        close(fd)
        if let path { unlink(path) }
    }

    /// The next datagram, or nil when none came within `timeout` seconds.
    func receive(timeout: Double = 10) -> String? {
        Sock.setTimeouts(fd, seconds: timeout)
        return read(flags: 0)
    }

    /// A datagram already queued, without waiting.
    func queued() -> String? { read(flags: Int32(MSG_DONTWAIT)) }

    private func read(flags: Int32) -> String? {
        var bytes = [UInt8](repeating: 0, count: 70_000)
        let n = recv(fd, &bytes, bytes.count, flags)
        return n < 0 ? nil : String(decoding: bytes[0..<n], as: UTF8.self)
    }
}

/// A socket path no other test uses, short enough for `sun_path`.
private func uniqueSocketPath() -> String {
    "/tmp/weir-it-syslog-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
}

@Suite("Syslog")
struct SyslogScenarioTests {
    @Test("a UDP target gets the tcplog line in RFC 5424, cut to its len")
    func udpRFC5424CutToLen() throws {
        let syslog = try SyslogReceiver()
        let backend = try Backend(.name("s1"))
        let scenario = try Scenario(
            config: tcpConfig(backend: serverLines([backend]),
                              global: "    log \(syslog.address) len 100 format rfc5424 local3 info"),
            backends: [backend])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        #expect(try client.readLine() == "s1")
        client.close()
        let line = try scenario.log(of: client).raw

        let datagram = try #require(syslog.receive())
        #expect(datagram.utf8.count == 100, "header plus tcplog line is longer than len 100: cut to exactly 100")
        #expect(datagram.hasSuffix("\n"))
        let fields = datagram.dropLast().split(separator: " ", maxSplits: 7, omittingEmptySubsequences: false)
        try #require(fields.count == 8, "\(datagram)")
        #expect(fields[0] == "<158>1", "local3 (19) * 8 + info (6), version 1")
        #expect(fields[1].wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d/) != nil, "\(fields[1])")
        var hostname = [CChar](repeating: 0, count: 256)
        gethostname(&hostname, 255)
        let hostnameBytes = hostname.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        #expect(fields[2] == String(decoding: hostnameBytes, as: UTF8.self))
        #expect(fields[3] == "weir")
        #expect(fields[4] == "\(scenario.weir.pid)")
        #expect(fields[5] == "-" && fields[6] == "-", "no MSGID, no structured data")
        #expect(!fields[7].isEmpty && line.hasPrefix(fields[7]), "the message is the start of the tcplog line")
    }

    @Test("a target named by host name (from /etc/hosts) is resolved at load and gets the line")
    func hostNameTarget() throws {
        let syslog = try SyslogReceiver()
        let backend = try Backend(.name("s1"))
        let port = syslog.address.split(separator: ":").last!
        let scenario = try Scenario(
            config: tcpConfig(backend: serverLines([backend]), global: "    log \(loopbackHostName()):\(port) local0 info"),
            backends: [backend])
        defer { scenario.close() }
        let client = try Client(port: scenario.port)
        #expect(try client.readLine() == "s1")
        client.close()
        let line = try scenario.log(of: client).raw
        let datagram = try #require(syslog.receive())
        #expect(datagram.hasPrefix("<134>") && datagram.contains(line), "\(datagram)")
    }

    @Test("each target gets the levels it asks for, in rfc3164 by default")
    func levelFiltering() throws {
        let errorsOnly = try SyslogReceiver()
        let everything = try SyslogReceiver(unixPath: uniqueSocketPath())
        let backend = try Backend(.name("s1"))
        let scenario = try Scenario(
            config: tcpConfig(backend: serverLines([backend]), global: """
                    log \(errorsOnly.address) local0 err
                    log \(everything.address) local1
                """),
            backends: [backend])
        defer { scenario.close() }
        #expect(try askName(scenario.port) == "s1")
        let datagram = try #require(everything.receive())
        // local1 (17) * 8 + info (6); `Mmm dd hh:mm:ss weir[PID]: `, no hostname.
        let header = /<142>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d weir\[(\d+)\]: 127\.0\.0\.1:\d+ \[.*\n/
        let match = try #require(datagram.wholeMatch(of: header), "\(datagram)")
        #expect(match.1 == "\(scenario.weir.pid)")
        scenario.weir.signal(SIGUSR1)
        #expect(scenario.weir.waitForExit(timeout: 20) == 0)
        // Every send happened before the worker exited, and loopback delivery
        // is synchronous: nothing queued means nothing was sent.
        #expect(errorsOnly.queued() == nil, "an info line is less severe than err")
    }

    @Test("targets with no reader cost dropped lines, never a stalled or crashed proxy")
    func targetsWithoutReaders() throws {
        let missingPath = uniqueSocketPath()
        let stalled = try SyslogReceiver(unixPath: uniqueSocketPath())
        // Bound, then closed at once: nothing listens there.
        let refusedAddress = try SyslogReceiver().address
        let backend = try Backend(.name("s1"))
        let scenario = try Scenario(
            config: tcpConfig(backend: serverLines([backend]), global: """
                    log unix@\(missingPath) local0
                    log \(refusedAddress) local0
                    log \(stalled.address) format raw local0
                """),
            backends: [backend])
        defer { scenario.close() }
        // The stalled receiver never reads: its queue fills after a few lines
        // (net.unix.max_dgram_qlen, the send buffer) and the rest is dropped.
        let connections = 600
        for _ in 0..<connections {
            try #require(try askName(scenario.port) == "s1")
        }
        scenario.weir.signal(SIGUSR1)
        #expect(scenario.weir.waitForExit(timeout: 20) == 0)
        #expect(scenario.weir.stderr.waitForLine {
            $0.contains("\(connections) log lines for unix@\(missingPath) were dropped: last error: No such file or directory")
        } != nil, "\(scenario.weir.stderr.text)")
        #expect(scenario.weir.stderr.waitForLine {
            $0.contains("log lines for \(stalled.address) were dropped: the syslog reader was too slow")
        } != nil, "\(scenario.weir.stderr.text)")
        #expect(stalled.queued()?.hasPrefix("127.0.0.1:") == true, "the lines that fit were delivered")
    }
}

/// A name `/etc/hosts` gives 127.0.0.1, other than `localhost` (which Weir
/// knows without asking) when there is one.
private func loopbackHostName() -> String {
    guard let hosts = try? String(contentsOfFile: "/etc/hosts", encoding: .utf8) else { return "localhost" }
    for line in hosts.split(separator: "\n") {
        let fields = line.prefix { $0 != "#" }.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if fields.first == "127.0.0.1", let name = fields.dropFirst().first(where: { $0 != "localhost" }) {
            return String(name)
        }
    }
    return "localhost"
}
