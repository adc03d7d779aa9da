import Glibc
import WeirConfig
import WeirShared
import WeirSystem

/// Bytes appended without allocating: a fixed buffer that the owner flushes.
struct LineBuffer: ~Copyable {
    let bytes: UnsafeMutablePointer<UInt8>
    let capacity: Int
    var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        bytes = .allocate(capacity: capacity)
    }

    deinit { bytes.deallocate() }

    var remaining: Int { capacity - count }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        guard count < capacity else { return }
        bytes[count] = byte
        count += 1
    }

    @inline(__always)
    mutating func append(_ raw: UnsafeRawBufferPointer) {
        let n = min(raw.count, remaining)
        guard n > 0 else { return }
        UnsafeMutableRawPointer(bytes + count).copyMemory(from: raw.baseAddress!, byteCount: n)
        count += n
    }

    @inline(__always)
    mutating func append(_ array: [UInt8]) {
        array.withUnsafeBytes { append($0) }
    }

    mutating func append(ascii text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// A decimal integer, with a leading '-' when negative.
    mutating func append(decimal value: Int64) {
        var value = value
        if value < 0 {
            append(UInt8(ascii: "-"))
            value = -value
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[n] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
                n += 1
            } while value > 0
            while n > 0 {
                n -= 1
                append(d[n])
            }
        }
    }

    mutating func append(decimal value: Int) { append(decimal: Int64(value)) }

    /// Two digits, zero-padded.
    mutating func append(twoDigits value: Int) {
        append(UInt8(ascii: "0") + UInt8(value / 10 % 10))
        append(UInt8(ascii: "0") + UInt8(value % 10))
    }

    mutating func append(threeDigits value: Int) {
        append(UInt8(ascii: "0") + UInt8(value / 100 % 10))
        append(twoDigits: value % 100)
    }

    /// Writes as much as `fd` takes without blocking and keeps the rest, in
    /// order, for the next call. A descriptor that fails (closed stdout) loses
    /// what was pending rather than stopping the loop.
    mutating func flush(to fd: Int32) {
        var written = 0
        drain: while written < count {
            do {
                switch try Posix.write(fd, from: bytes + written, count: count - written) {
                case .processed(let n): written += n
                case .wouldBlock: break drain
                }
            } catch {
                written = count
            }
        }
        if written > 0 && written < count {
            UnsafeMutableRawPointer(bytes).copyMemory(from: bytes + written, byteCount: count - written)
        }
        count -= written
    }
}

/// Per-worker log output. A caller appends the message to `line`, then calls
/// `emit(level:to:)`. Lines for stdout and stderr are formatted into
/// preallocated buffers and written once per loop tick (one write per tick,
/// not per line); lines for syslog targets leave at once, one datagram each.
/// Nothing blocks the loop: what a slow reader does not take stays pending,
/// and lines that do not fit or that a syslog target refuses are counted as
/// dropped.
struct Logger: ~Copyable {
    var line = LineBuffer(capacity: 4096)
    var stdoutPending = LineBuffer(capacity: 64 * 1024)
    var stderrPending = LineBuffer(capacity: 64 * 1024)
    /// One target's header plus the message, before it joins a pending buffer.
    private var record = LineBuffer(capacity: 4096 + 512)
    private var cachedSecond: Int = -1
    /// `22/Nov/2026:04:10:12` for HAProxy log dates.
    private var logDate = [UInt8](repeating: 0, count: 20)
    /// `Nov 22 04:10:12` for RFC 3164 headers.
    private var syslogDate = [UInt8](repeating: 0, count: 15)
    /// `2026-11-22T04:10:12` for RFC 5424 headers.
    private var isoDate = [UInt8](repeating: 0, count: 19)
    private var utcOffset = 0
    /// Lines for stdout or stderr dropped because their reader was too slow.
    private(set) var dropped = 0
    private let pid = Int64(getpid())
    private var hostname: [UInt8]
    /// `log-send-hostname`: RFC 3164 headers name the host.
    private var namesHost = false
    /// `log-tag`: the program name in syslog headers.
    private var tag: [UInt8] = Array("weir".utf8)
    /// One socket per distinct syslog destination.
    private(set) var syslogSockets: [SyslogSocket] = []
    /// The shortest time between two connection attempts to one syslog target.
    private let syslogRetryMilliseconds: Int64

    /// Opens a socket for every syslog destination among `targets` now; a
    /// destination first met by `emit` gets its socket then.
    /// `sendHostname`: `log-send-hostname [NAME]` (nil: not set); `tag`: `log-tag`.
    init(targets: [LogTarget] = [], syslogRetryMilliseconds: Int64 = 1000, sendHostname: String? = nil,
         tag: String? = nil) {
        self.syslogRetryMilliseconds = syslogRetryMilliseconds
        // A pipe or socket reader that stalls must not stall the loop: write to
        // those without blocking. Terminals and files stay as they are (a
        // terminal's flags are shared with the shell that started us).
        for fd: Int32 in [1, 2] {
            var info = stat()
            if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFIFO || (info.st_mode & S_IFMT) == S_IFSOCK {
                try? Posix.setNonBlocking(fd)
            }
        }
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        hostname = Array(name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) })
        if let sendHostname {
            namesHost = true
            if !sendHostname.isEmpty { hostname = Array(sendHostname.utf8) }
        }
        if let tag { self.tag = Array(tag.utf8) }
        for target in targets {
            switch target.destination {
            case .udp, .unixDatagram: _ = syslogSocket(for: target.destination)
            case .stdout, .stderr: break
            }
        }
        for socket in syslogSockets where !socket.isConnected {
            Notice.warning("log \(socket.name): cannot send yet (\(socket.problem ?? "not connected")); "
                           + "its lines are dropped until it can be reached")
        }
    }

    deinit {
        for socket in syslogSockets { socket.close() }
    }

    /// The index of `destination`'s socket, opened and connected on first use.
    private mutating func syslogSocket(for destination: LogDestination) -> Int {
        if let index = syslogSockets.firstIndex(where: { $0.destination == destination }) { return index }
        var socket = SyslogSocket(destination)
        socket.connect(now: Clock.monotonicMilliseconds(), retryInterval: syslogRetryMilliseconds)
        syslogSockets.append(socket)
        return syslogSockets.count - 1
    }

    private static let months: [StaticString] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Formats the cached date strings once per second.
    private mutating func updateDates(second: Int) {
        guard second != cachedSecond else { return }
        cachedSecond = second
        var t = time_t(second)
        var tm = Glibc.tm()
        localtime_r(&t, &tm)
        utcOffset = Int(tm.tm_gmtoff)
        var b = LineBuffer(capacity: 32)
        b.append(twoDigits: Int(tm.tm_mday)); b.append(UInt8(ascii: "/"))
        b.append(ascii: Logger.months[Int(tm.tm_mon)]); b.append(UInt8(ascii: "/"))
        b.append(decimal: Int(tm.tm_year) + 1900); b.append(UInt8(ascii: ":"))
        appendClock(&b, tm)
        logDate = Array(UnsafeBufferPointer(start: b.bytes, count: b.count))
        b.count = 0
        b.append(ascii: Logger.months[Int(tm.tm_mon)]); b.append(UInt8(ascii: " "))
        if tm.tm_mday < 10 { b.append(UInt8(ascii: " ")); b.append(decimal: Int(tm.tm_mday)) } else { b.append(decimal: Int(tm.tm_mday)) }
        b.append(UInt8(ascii: " "))
        appendClock(&b, tm)
        syslogDate = Array(UnsafeBufferPointer(start: b.bytes, count: b.count))
        b.count = 0
        b.append(decimal: Int(tm.tm_year) + 1900); b.append(UInt8(ascii: "-"))
        b.append(twoDigits: Int(tm.tm_mon) + 1); b.append(UInt8(ascii: "-"))
        b.append(twoDigits: Int(tm.tm_mday)); b.append(UInt8(ascii: "T"))
        appendClock(&b, tm)
        isoDate = Array(UnsafeBufferPointer(start: b.bytes, count: b.count))
    }

    private func appendClock(_ b: inout LineBuffer, _ tm: Glibc.tm) {
        b.append(twoDigits: Int(tm.tm_hour)); b.append(UInt8(ascii: ":"))
        b.append(twoDigits: Int(tm.tm_min)); b.append(UInt8(ascii: ":"))
        b.append(twoDigits: Int(tm.tm_sec))
    }

    /// Appends `[22/Nov/2026:04:10:12.345]`'s inside for a wall time in ms.
    mutating func appendLogDate(wallMilliseconds: Int64) {
        updateDates(second: Int(wallMilliseconds / 1000))
        line.append(logDate)
        line.append(UInt8(ascii: "."))
        line.append(threeDigits: Int(wallMilliseconds % 1000))
    }

    /// Sends the message in `line` to every target whose level allows it, then
    /// empties `line`. Session and request logs are `.info`. A target sends
    /// only levels at least as severe as its `maxLevel`, and reports levels
    /// more severe than its `minLevel` as `minLevel` (HAProxy's
    /// `log … LEVEL MINLEVEL`). `wallMilliseconds` dates the syslog header:
    /// by default the time of sending, as HAProxy does.
    mutating func emit(level: LogLevel = .info, to targets: [LogTarget],
                       wallMilliseconds: Int64 = Clock.wallMilliseconds()) {
        defer { line.count = 0 }
        updateDates(second: Int(wallMilliseconds / 1000))
        for target in targets {
            if let maxLevel = target.maxLevel, level > maxLevel { continue }
            let reported = max(level, target.minLevel ?? level)
            formatRecord(target, level: reported, wall: wallMilliseconds)
            let formatted = UnsafeRawBufferPointer(start: record.bytes, count: record.count)
            switch target.destination {
            case .stdout:
                if stdoutPending.remaining < record.count { stdoutPending.flush(to: 1) }
                guard stdoutPending.remaining >= record.count else { dropped += 1; continue }
                stdoutPending.append(formatted)
            case .stderr:
                if stderrPending.remaining < record.count { stderrPending.flush(to: 2) }
                guard stderrPending.remaining >= record.count else { dropped += 1; continue }
                stderrPending.append(formatted)
            case .udp, .unixDatagram:
                let index = syslogSocket(for: target.destination)
                syslogSockets[index].send(formatted, retryInterval: syslogRetryMilliseconds)
            }
        }
    }

    /// Fills `record` with the target's header and the message, cut so that
    /// with the final newline it is at most the target's `len` bytes.
    private mutating func formatRecord(_ target: LogTarget, level: LogLevel, wall: Int64) {
        record.count = 0
        let priority = Int64(target.facility * 8 + level.rawValue)
        switch target.format {
        case .raw:
            break
        case .rfc3164:
            // `<PRI>Mmm dd hh:mm:ss [HOST ]weir[PID]: `: the host only with
            // log-send-hostname, as HAProxy.
            record.append(UInt8(ascii: "<")); record.append(decimal: priority); record.append(UInt8(ascii: ">"))
            record.append(syslogDate); record.append(UInt8(ascii: " "))
            if namesHost && !hostname.isEmpty { record.append(hostname); record.append(UInt8(ascii: " ")) }
            record.append(tag); record.append(UInt8(ascii: "[")); record.append(decimal: pid); record.append(ascii: "]: ")
        case .rfc5424:
            // `<PRI>1 TIMESTAMP HOSTNAME weir PID - - `: no MSGID, no structured data.
            record.append(UInt8(ascii: "<")); record.append(decimal: priority); record.append(ascii: ">1 ")
            record.append(isoDate); record.append(UInt8(ascii: "."))
            record.append(threeDigits: Int(wall % 1000))
            let offset = abs(utcOffset) / 60
            record.append(utcOffset < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            record.append(twoDigits: offset / 60); record.append(UInt8(ascii: ":")); record.append(twoDigits: offset % 60)
            record.append(UInt8(ascii: " "))
            if hostname.isEmpty { record.append(UInt8(ascii: "-")) } else { record.append(hostname) }
            record.append(UInt8(ascii: " ")); record.append(tag); record.append(UInt8(ascii: " "))
            record.append(decimal: pid); record.append(ascii: " - - ")
        }
        record.append(UnsafeRawBufferPointer(start: line.bytes, count: line.count))
        record.count = min(record.count, target.maxLength - 1, record.capacity - 1)
        record.append(UInt8(ascii: "\n"))
    }

    /// Called once per loop tick: with nothing pending (no log lines, or
    /// none since the last tick) it costs no call.
    @inline(__always)
    mutating func flush() {
        if stdoutPending.count > 0 { stdoutPending.flush(to: 1) }
        if stderrPending.count > 0 { stderrPending.flush(to: 2) }
    }

    /// Before exit: waits (a bounded time) for slow readers to take the rest.
    mutating func flushBeforeExit() {
        for _ in 0..<50 {
            flush()
            guard stdoutPending.count > 0 || stderrPending.count > 0 else { break }
            var fds = [pollfd(fd: 1, events: Int16(POLLOUT), revents: 0), pollfd(fd: 2, events: Int16(POLLOUT), revents: 0)]
            _ = poll(&fds, 2, 100)
        }
        if dropped > 0 { Notice.warning("\(dropped) log lines were dropped: the log reader was too slow") }
        for socket in syslogSockets where socket.dropped > 0 {
            Notice.warning("\(socket.dropped) log lines for \(socket.name) were dropped: "
                           + (socket.problem.map { "last error: \($0)" } ?? "the syslog reader was too slow"))
        }
    }
}
