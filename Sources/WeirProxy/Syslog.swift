import Glibc
import WeirConfig
import WeirSystem

/// One syslog target's datagram socket (UDP over IPv4/IPv6, or AF_UNIX),
/// non-blocking and connect()ed, so a log line is one send(2) that never
/// waits. A target that cannot be reached yet (a UNIX path nobody has bound,
/// a receiver that restarted) is connected again at most once per retry
/// interval; until then its lines are dropped and counted.
struct SyslogSocket {
    let destination: LogDestination
    /// `127.0.0.1:514`, `[::1]:514` or `unix@/dev/log`, as warnings name it.
    let name: String
    /// nil when the destination has no socket address (a UNIX path longer
    /// than `sun_path`): every line to it is dropped.
    private let address: SocketAddress?
    private var fd: Int32 = -1
    private(set) var isConnected = false
    /// Monotonic ms before which no new socket() or connect() is tried.
    private var nextAttempt: Int64 = 0
    /// Lines this target lost: not connected, receiver full (EAGAIN,
    /// ENOBUFS) or refusing (ECONNREFUSED).
    private(set) var dropped = 0
    /// Why the last connect or send failed, for the warnings.
    private(set) var lastError: Errno?

    init(_ destination: LogDestination) {
        self.destination = destination
        switch destination {
        case .udp(let ip, let port):
            address = SocketAddress(ip: ip.bytes, port: port)
            name = ip.isV6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        case .unixDatagram(let path):
            address = SocketAddress(unixPath: path)
            name = "unix@\(path)"
        case .stdout, .stderr:
            preconditionFailure("stdout and stderr are written, not sent")
        }
    }

    /// Why the target is unusable, when it is.
    var problem: String? {
        if address == nil { return "the path is longer than a UNIX socket address allows" }
        return lastError.map { "\($0)" }
    }

    /// Creates the socket if needed and connects it, unless an attempt was
    /// made less than `retryInterval` ms ago. Returns whether it is connected.
    @discardableResult
    mutating func connect(now: Int64, retryInterval: Int64) -> Bool {
        guard let address, now >= nextAttempt else { return false }
        nextAttempt = now + retryInterval
        do {
            if fd < 0 { fd = try Posix.socket(domain: address.family, type: Posix.datagramType).release() }
            isConnected = try Posix.connect(fd, to: address)
        } catch {
            lastError = error
        }
        return isConnected
    }

    /// Sends one datagram without waiting; a line that cannot go now is dropped.
    mutating func send(_ datagram: UnsafeRawBufferPointer, retryInterval: Int64) {
        if !isConnected {
            guard connect(now: Clock.monotonicMilliseconds(), retryInterval: retryInterval) else {
                dropped += 1
                return
            }
        }
        do {
            if case .wouldBlock = try Posix.send(fd, from: datagram.baseAddress!, count: datagram.count) {
                dropped += 1
            }
        } catch {
            dropped += 1
            lastError = error
            // A UNIX receiver that went away (syslogd restarted) leaves this
            // socket connected to nothing: connect again, at the retry rate.
            // A connected UDP socket stays usable: ECONNREFUSED only reports
            // an ICMP error caused by an earlier datagram.
            if case .unixDatagram = destination { isConnected = false }
        }
    }

    /// Closes the socket, at the end of the logger's life.
    func close() {
        if fd >= 0 { Posix.close(fd) }
    }
}
