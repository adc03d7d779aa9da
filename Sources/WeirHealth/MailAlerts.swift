import Glibc
import WeirConfig
import WeirLoop
import WeirShared
import WeirSystem

/// Email alerts (`email-alert` with a `mailers` section), run on the event
/// loop that runs the checks: the master's, or the single process's (`-d`).
/// The host gives it one token kind, forwards it the events and timers of
/// that kind, and hands it each state change it logs.
///
/// Each alert goes to every mailer of the backend's section over SMTP, as
/// HAProxy sends it: a non-blocking connect, then EHLO, MAIL FROM, RCPT TO,
/// DATA, QUIT, each answer awaited, the whole bounded by `timeout mail`. A
/// delivery that fails is logged and dropped, never retried. Alerts
/// allocate (their text, their buffers); they are not the traffic's path.
public struct MailAlerts {
    /// One mail on its way to one mailer.
    struct Delivery {
        var fd: Int32
        var mailer: String
        var connected = false
        /// The commands left to send, each after the previous answer; the
        /// first answer awaited is the server's greeting.
        var commands: [[UInt8]]
        /// Bytes of the current command not yet sent.
        var pending: [UInt8] = []
        /// What the server said since the last complete reply.
        var reply: [UInt8] = []
        var deadline: Int64
    }

    /// At most this many deliveries at once; an alert past it is dropped
    /// (and logged): a flapping server cannot open sockets without bound.
    static let maximumDeliveries = 64

    let tokenKind: UInt8
    var configuration: Configuration
    let hostname: String
    var deliveries: [Delivery?] = []

    /// Nil when no backend sends alerts.
    public init?(configuration: Configuration, tokenKind: UInt8) {
        guard configuration.backends.contains(where: { $0.emailAlert != nil }) else { return nil }
        self.tokenKind = tokenKind
        self.configuration = configuration
        var name = [CChar](repeating: 0, count: 256)
        hostname = gethostname(&name, name.count - 1) == 0 ? String(cString: name) : "localhost"
    }

    /// A reload: new alerts follow `configuration`; those on their way go on.
    public mutating func reconfigure(_ configuration: Configuration) { self.configuration = configuration }

    /// The level of a state change's log line, as HAProxy mails it: going
    /// down is an alert, the rest a notice; nil for no alert.
    static func level(of event: CheckEvent) -> LogLevel? {
        switch event.kind {
        case .wentDown: return .alert
        case .wentUp, .stopping: return .notice
        case .weight, .progress, .agent, .checked: return nil
        }
    }

    /// Mails the line the host logged for `event`, when the change is at
    /// least as severe as its backend's `email-alert level`.
    public mutating func alert(_ event: CheckEvent, logged message: String, loop: inout EventLoop) {
        guard let level = Self.level(of: event), let settings = configuration.backends[event.backend].emailAlert,
              level <= settings.level else { return }
        let section = configuration.mailers[settings.mailers]
        for mailer in section.mailers {
            start(to: mailer, in: section, settings, message: message, loop: &loop)
        }
    }

    public mutating func handleEvent(_ token: Token, events: UInt32, loop: inout EventLoop) {
        let i = Int(token.slot)
        guard i < deliveries.count, deliveries[i] != nil else { return }
        if !deliveries[i]!.connected {
            guard events & (Epoll.writable | Epoll.error | Epoll.peerClosed) != 0 else { return }
            if let error = Posix.socketError(deliveries[i]!.fd) {
                fail(i, "cannot connect: \(error)", loop: &loop)
                return
            }
            deliveries[i]!.connected = true
        }
        guard send(i, loop: &loop) else { return }
        receive(i, loop: &loop)
    }

    public mutating func handleTimer(_ token: Token, deadline: Int64, loop: inout EventLoop) {
        let i = Int(token.slot)
        guard i < deliveries.count, let delivery = deliveries[i], delivery.deadline == deadline else { return }
        fail(i, "no answer within 'timeout mail'", loop: &loop)
    }

    // MARK: One delivery

    private mutating func start(to mailer: Mailer, in section: MailersSection, _ settings: EmailAlert, message: String,
                                loop: inout EventLoop) {
        let label = "\(section.name)/\(mailer.name)"
        guard let i = deliveries.firstIndex(where: { $0 == nil }) ?? (deliveries.count < Self.maximumDeliveries ? deliveries.count : nil)
        else {
            Notice.warning("email-alert: too many alerts in flight; not sent to mailer \(label): \(message)")
            return
        }
        let address = SocketAddress(ip: mailer.ip.bytes, port: mailer.port)
        let fd: Int32
        do { fd = try Posix.socket(domain: address.family, type: Posix.streamType).release() } catch {
            Notice.warning("email-alert: mailer \(label): \(error)")
            return
        }
        let connected: Bool
        do {
            connected = try Posix.connect(fd, to: address)
            try loop.register(fd, events: Epoll.readable | Epoll.writable | Epoll.peerClosed | Epoll.edgeTriggered,
                              token: Token(kind: tokenKind, slot: UInt32(i)))
        } catch {
            Posix.close(fd)
            Notice.warning("email-alert: mailer \(label): cannot connect: \(error)")
            return
        }
        let delivery = Delivery(fd: fd, mailer: label, connected: connected,
                                commands: Self.commands(settings, hostname: settings.myHostname ?? hostname,
                                                        message: message, date: Self.date(loop.wallNow)),
                                deadline: loop.now + Int64(section.timeout))
        if i == deliveries.count { deliveries.append(delivery) } else { deliveries[i] = delivery }
        loop.schedule(Token(kind: tokenKind, slot: UInt32(i)), at: delivery.deadline)
    }

    /// Sends what is pending; false when the delivery ended.
    private mutating func send(_ i: Int, loop: inout EventLoop) -> Bool {
        while !deliveries[i]!.pending.isEmpty {
            let fd = deliveries[i]!.fd
            let result = deliveries[i]!.pending.withUnsafeBytes { bytes -> Result<IOResult, Errno> in
                do throws(Errno) { return .success(try Posix.send(fd, from: bytes.baseAddress!, count: bytes.count)) } catch {
                    return .failure(error)
                }
            }
            switch result {
            case .success(.processed(let n)): deliveries[i]!.pending.removeFirst(n)
            case .success(.wouldBlock): return true
            case .failure(let error):
                fail(i, "cannot send: \(error)", loop: &loop)
                return false
            }
        }
        return true
    }

    /// Reads the server's replies; each complete one lets the next command go.
    private mutating func receive(_ i: Int, loop: inout EventLoop) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while deliveries[i] != nil {
            let fd = deliveries[i]!.fd
            let result = chunk.withUnsafeMutableBytes { bytes -> Result<IOResult, Errno> in
                do throws(Errno) { return .success(try Posix.receive(fd, into: bytes.baseAddress!, count: bytes.count)) } catch {
                    return .failure(error)
                }
            }
            switch result {
            case .success(.processed(0)):
                fail(i, "the server closed the connection", loop: &loop)
                return
            case .success(.processed(let n)):
                deliveries[i]!.reply += chunk[0..<n]
                guard deliveries[i]!.reply.count <= 65536 else {
                    fail(i, "reply too long", loop: &loop)
                    return
                }
                while deliveries[i] != nil, let reply = Self.completeReply(&deliveries[i]!.reply) {
                    answered(i, reply, loop: &loop)
                }
            case .success(.wouldBlock):
                return
            case .failure(let error):
                fail(i, "cannot read: \(error)", loop: &loop)
                return
            }
        }
    }

    /// A complete reply: the next command, or the end after QUIT's.
    private mutating func answered(_ i: Int, _ reply: (code: Int, text: String), loop: inout EventLoop) {
        // DATA's go-ahead is 354; every other step wants a 2xx.
        let sentData = deliveries[i]!.commands.count == 2
        let expected = sentData ? 300..<400 : 200..<300
        guard expected.contains(reply.code) else {
            fail(i, "the server answered '\(reply.text)'", loop: &loop)
            return
        }
        if deliveries[i]!.commands.isEmpty {
            close(i, loop: &loop)  // QUIT answered: delivered.
            return
        }
        deliveries[i]!.pending = deliveries[i]!.commands.removeFirst()
        _ = send(i, loop: &loop)
    }

    private mutating func fail(_ i: Int, _ reason: String, loop: inout EventLoop) {
        Notice.warning("email-alert: mailer \(deliveries[i]!.mailer): \(reason); the alert is not sent")
        close(i, loop: &loop)
    }

    private mutating func close(_ i: Int, loop: inout EventLoop) {
        loop.deregister(deliveries[i]!.fd)
        Posix.close(deliveries[i]!.fd)
        deliveries[i] = nil
    }

    // MARK: SMTP

    /// The commands after the greeting, the message with them.
    static func commands(_ settings: EmailAlert, hostname: String, message: String, date: String) -> [[UInt8]] {
        let body = message.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(".") ? "." + $0 : String($0) }  // dot-stuffing (RFC 5321 §4.5.2)
            .joined(separator: "\r\n")
        let mail = "From: \(settings.from)\r\nTo: \(settings.to)\r\nDate: \(date)\r\n"
            + "Subject: [HAProxy Alert] \(message)\r\n\r\n\(body)\r\n.\r\n"
        return ["EHLO \(hostname)\r\n", "MAIL FROM:<\(settings.from)>\r\n", "RCPT TO:<\(settings.to)>\r\n", "DATA\r\n",
                mail, "QUIT\r\n"].map { Array($0.utf8) }
    }

    /// Takes one complete reply off the front of `bytes`: its lines up to
    /// one whose code is followed by a space (or nothing), RFC 5321 §4.2.1.
    static func completeReply(_ bytes: inout [UInt8]) -> (code: Int, text: String)? {
        var start = 0
        while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = bytes[start..<newline]
            start = newline + 1
            let isLast = line.count < 4 || line[line.startIndex + 3] != UInt8(ascii: "-")
            guard isLast else { continue }
            let text = String(decoding: line, as: UTF8.self).trimmingSuffix("\r")
            bytes.removeFirst(start)
            guard line.count >= 3, let code = Int(String(decoding: line.prefix(3), as: UTF8.self)) else {
                return (0, text)
            }
            return (code, text)
        }
        return nil
    }

    /// An RFC 5322 date, in UTC.
    static func date(_ wallMilliseconds: Int64) -> String {
        var seconds = time_t(wallMilliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var text = [CChar](repeating: 0, count: 64)
        let count = strftime(&text, text.count, "%a, %d %b %Y %H:%M:%S +0000", &parts)
        return String(decoding: text[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

private extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
