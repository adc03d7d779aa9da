import Glibc
import Testing
import WeirConfig
@testable import WeirProxy

/// A datagram socket bound by the test (UDP on 127.0.0.1 or AF_UNIX), read
/// with a bounded wait.
private final class DatagramReceiver {
    let fd: Int32
    let destination: LogDestination
    private let path: String?

    /// A UDP socket on a loopback port (0: an ephemeral one).
    init(port: UInt16 = 0) throws {
        let socket = try DatagramReceiver.socket(family: AF_INET)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        address.sin_port = port.bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound else { throw DatagramReceiver.failure("bind 127.0.0.1:\(port)", closing: socket) }
        fd = socket
        destination = .udp(IPAddress(bytes: [127, 0, 0, 1]), port: UInt16(bigEndian: address.sin_port))
        path = nil
    }

    /// An AF_UNIX datagram socket bound at `path`.
    init(unixPath: String) throws {
        let socket = try DatagramReceiver.socket(family: AF_UNIX)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(unixPath.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
        guard bound else { throw DatagramReceiver.failure("bind \(unixPath)", closing: socket) }
        fd = socket
        destination = .unixDatagram(path: unixPath)
        path = unixPath
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private static func socket(family: Int32) throws -> Int32 {
        let fd = Glibc.socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        return fd
    }

    private static func failure(_ call: String, closing fd: Int32) -> Failure {
        let failure = Failure(description: "\(call): errno \(errno)")
        close(fd)
        return failure
    }

    deinit {
        close(fd)
        if let path { unlink(path) }
    }

    /// The next datagram, or nil when none arrives within `timeout` seconds.
    func receive(timeout: Int = 5) -> String? {
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var bytes = [UInt8](repeating: 0, count: 70_000)
        let n = recv(fd, &bytes, bytes.count, 0)
        return n < 0 ? nil : String(decoding: bytes[0..<n], as: UTF8.self)
    }
}

/// A path in /tmp no other test uses, short enough for `sun_path`.
private func uniqueSocketPath() -> String {
    "/tmp/weir-syslog-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
}

private func target(_ destination: LogDestination, facility: Int = 16, format: SyslogFormat = .rfc3164,
                    maxLevel: LogLevel? = nil, minLevel: LogLevel? = nil, maxLength: Int = 1024) -> LogTarget {
    var target = LogTarget(destination: destination, facility: facility,
                           location: SourceLocation(file: "t.cfg", line: 1, column: 1))
    target.format = format
    target.maxLevel = maxLevel
    target.minLevel = minLevel
    target.maxLength = maxLength
    return target
}

private extension Logger {
    mutating func send(_ message: String, level: LogLevel = .info, to targets: [LogTarget], wall: Int64 = wallTime) {
        line.append(Array(message.utf8))
        emit(level: level, to: targets, wallMilliseconds: wall)
    }
}

/// 2023-11-14T22:13:20.123Z.
private let wallTime: Int64 = 1_700_000_000_123

/// `wallTime` through strftime(3) in the local time zone.
private func localTime(_ format: String) -> String {
    var seconds = time_t(wallTime / 1000)
    var parts = tm()
    localtime_r(&seconds, &parts)
    var text = [CChar](repeating: 0, count: 64)
    let n = strftime(&text, text.count, format, &parts)
    return String(decoding: text[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

@Suite struct SyslogFormatTests {
    @Test func rfc3164IsPriorityDateTagAndPidWithoutHostname() throws {
        let receiver = try DatagramReceiver()
        var logger = Logger()
        logger.send("hello", to: [target(receiver.destination)])
        // local0 (16) * 8 + info (6); the day of month is space-padded.
        #expect(receiver.receive() == "<134>\(localTime("%b %e %H:%M:%S")) weir[\(getpid())]: hello\n")
    }

    @Test func rfc5424HasVersionIsoTimeHostnameTagPidAndNilFields() throws {
        let receiver = try DatagramReceiver()
        var logger = Logger()
        logger.send("hello", to: [target(receiver.destination, facility: 19, format: .rfc5424)])
        var offset = localTime("%z")
        offset.insert(":", at: offset.index(offset.startIndex, offsetBy: 3))
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        let hostname = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // local3 (19) * 8 + info (6).
        #expect(receiver.receive()
                == "<158>1 \(localTime("%Y-%m-%dT%H:%M:%S")).123\(offset) \(hostname) weir \(getpid()) - - hello\n")
    }

    @Test func logSendHostnameAndLogTagChangeTheHeader() throws {
        let receiver = try DatagramReceiver()
        var named = Logger(sendHostname: "edge-1", tag: "haproxy")
        named.send("hello", to: [target(receiver.destination)])
        #expect(receiver.receive() == "<134>\(localTime("%b %e %H:%M:%S")) edge-1 haproxy[\(getpid())]: hello\n")
        var host = Logger(sendHostname: "")
        host.send("hi", to: [target(receiver.destination, format: .rfc5424)])
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        let hostname = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let line = receiver.receive() ?? ""
        #expect(line.hasSuffix(" \(hostname) weir \(getpid()) - - hi\n"), "\(line)")
    }

    @Test func rawSendsTheMessageAlone() throws {
        let receiver = try DatagramReceiver()
        var logger = Logger()
        logger.send("hello", to: [target(receiver.destination, format: .raw)])
        #expect(receiver.receive() == "hello\n")
    }

    @Test(arguments: [SyslogFormat.raw, .rfc3164, .rfc5424])
    func lenCutsTheWholeDatagramNewlineIncluded(_ format: SyslogFormat) throws {
        let receiver = try DatagramReceiver()
        var logger = Logger()
        let message = String(repeating: "0123456789", count: 30)
        logger.send(message, to: [target(receiver.destination, format: format)])
        let whole = try #require(receiver.receive())
        #expect(whole.utf8.count > 300, "the default len (1024) keeps all of it")
        logger.send(message, to: [target(receiver.destination, format: format, maxLength: 100)])
        let cut = try #require(receiver.receive())
        #expect(cut.utf8.count == 100)
        #expect(cut == String(whole.prefix(99)) + "\n", "the header stays, the message is cut, the newline ends it")
    }

    @Test func maxLevelFiltersAndMinLevelCapsSeverity() throws {
        let receiver = try DatagramReceiver()
        var logger = Logger()
        // `log ADDR local0 notice warning`: notice and more severe are sent,
        // anything more severe than warning is reported as warning.
        let targets = [target(receiver.destination, format: .raw, maxLevel: .notice, minLevel: .warning)]
        logger.send("info is filtered", level: .info, to: targets)
        logger.send("notice", level: .notice, to: targets)
        #expect(receiver.receive() == "notice\n", "the info line was never sent")
        let capped = [target(receiver.destination, maxLevel: .notice, minLevel: .warning)]
        logger.send("emergency", level: .emerg, to: capped)
        // local0 (16) * 8 + warning (4), not emerg (0).
        #expect(receiver.receive()?.hasPrefix("<132>") == true)
    }

    @Test func sessionLogsAreInfoByDefault() throws {
        let receiver = try DatagramReceiver()
        var logger = Logger()
        logger.line.append(ascii: "session")
        logger.emit(to: [target(receiver.destination)])
        #expect(receiver.receive()?.hasPrefix("<134>") == true)
    }
}

@Suite struct SyslogDeliveryTests {
    @Test func unixPathBoundAfterStartIsConnectedOnALaterLine() throws {
        let path = uniqueSocketPath()
        let destination = LogDestination.unixDatagram(path: path)
        var logger = Logger(targets: [target(destination)], syslogRetryMilliseconds: 0)
        #expect(logger.syslogSockets.count == 1, "the socket exists from the start")
        #expect(logger.syslogSockets[0].isConnected == false)
        logger.send("before", to: [target(destination, format: .raw)])
        #expect(logger.syslogSockets[0].dropped == 1)
        let receiver = try DatagramReceiver(unixPath: path)
        logger.send("after", to: [target(destination, format: .raw)])
        #expect(receiver.receive() == "after\n")
    }

    @Test func reconnectionIsAttemptedAtMostOncePerRetryInterval() throws {
        let path = uniqueSocketPath()
        let destination = LogDestination.unixDatagram(path: path)
        var logger = Logger(targets: [target(destination)], syslogRetryMilliseconds: 60_000)
        let receiver = try DatagramReceiver(unixPath: path)
        withExtendedLifetime(receiver) {
            logger.send("too early", to: [target(destination, format: .raw)])
        }
        #expect(logger.syslogSockets[0].dropped == 1, "the startup attempt failed less than a minute ago")
        #expect(logger.syslogSockets[0].problem == "No such file or directory")
    }

    @Test func aReceiverThatDoesNotReadCostsDroppedLinesNotAStall() throws {
        let receiver = try DatagramReceiver(unixPath: uniqueSocketPath())
        var logger = Logger()
        let targets = [target(receiver.destination, format: .raw)]
        for i in 0..<5000 { logger.send("line \(i)", to: targets) }
        #expect(logger.syslogSockets[0].dropped > 0)
        #expect(logger.syslogSockets[0].dropped < 5000)
        #expect(receiver.receive() == "line 0\n", "what was queued arrives in order")
    }

    @Test func aUDPTargetThatRefusedLinesReceivesAgainOnceAListenerIsBack() throws {
        var port: UInt16 = 0
        do {
            let gone = try DatagramReceiver()
            guard case .udp(_, let p) = gone.destination else { return }
            port = p
        }
        let destination = LogDestination.udp(IPAddress(bytes: [127, 0, 0, 1]), port: port)
        var logger = Logger(targets: [target(destination)])
        for i in 0..<20 { logger.send("refused \(i)", to: [target(destination, format: .raw)]) }
        #expect(logger.syslogSockets[0].dropped > 0, "ECONNREFUSED reported the missing listener")
        #expect(logger.syslogSockets[0].isConnected, "a refused UDP datagram does not disconnect the socket")
        let receiver = try DatagramReceiver(port: port)
        logger.send("back", to: [target(destination, format: .raw)])
        #expect(receiver.receive() == "back\n")
    }
}
