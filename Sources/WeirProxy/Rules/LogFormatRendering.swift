import Glibc
import WeirConfig
import WeirHTTP
import WeirSystem
import WeirTLS

/// Where a rendered log-format string goes.
enum RenderTarget {
    /// Kept with the message until it is written (header values, request line).
    case edits
    /// For the current rule only (answers, backend names, replacement templates).
    case output
}

extension RuleEngine {
    /// Renders a log-format string: literals, `%[sample]` (empty when the
    /// sample does not exist) and the `%var` variables known while rules run
    /// (others render as `-`). nil when it does not fit.
    mutating func render(_ format: CompiledLogFormat, into target: RenderTarget) -> UnsafeRawBufferPointer? {
        let start = target == .edits ? edits.mark : output.mark
        for node in format.nodes {
            let mark = scratch.mark
            let fits: Bool
            switch node {
            case .literal(let bytes):
                fits = append(bytes, to: target)
            case .sample(let sample, let options):
                let value = sampleValue(sample)
                if case .integer(let n) = value, options.hex {
                    fits = appendHex(n, to: target, options: options)
                } else {
                    fits = append(bytes(of: value) ?? UnsafeRawBufferPointer(start: nil, count: 0), options: options, to: target)
                }
            case .variable(let variable, let options):
                fits = appendVariable(variable, options: options, to: target)
            }
            scratch.rewind(to: mark)
            guard fits else {
                rewind(target, to: start)
                return nil
            }
        }
        return target == .edits ? edits.bytes(since: start) : output.bytes(since: start)
    }

    private mutating func rewind(_ target: RenderTarget, to mark: Int) {
        switch target {
        case .edits: edits.rewind(to: mark)
        case .output: output.rewind(to: mark)
        }
    }

    private mutating func append(_ bytes: UnsafeRawBufferPointer, to target: RenderTarget) -> Bool {
        switch target {
        case .edits: return edits.append(bytes)
        case .output: return output.append(bytes)
        }
    }

    private mutating func append(_ byte: UInt8, to target: RenderTarget) -> Bool {
        switch target {
        case .edits: return edits.append(byte)
        case .output: return output.append(byte)
        }
    }

    /// A field with its `%{+Q}` quotes and `%{+E}` escapes.
    private mutating func append(_ bytes: UnsafeRawBufferPointer, options: LogFormatOptions, to target: RenderTarget) -> Bool {
        if options.quote && !append(UInt8(ascii: "\""), to: target) { return false }
        if options.escape {
            for byte in bytes {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "]") {
                    guard append(UInt8(ascii: "\\"), to: target) else { return false }
                }
                guard append(byte, to: target) else { return false }
            }
        } else if !append(bytes, to: target) {
            return false
        }
        return !options.quote || append(UInt8(ascii: "\""), to: target)
    }

    private mutating func appendHex(_ n: Int64, to target: RenderTarget, options: LogFormatOptions) -> Bool {
        let start = scratch.mark
        let digits: StaticString = "0123456789ABCDEF"
        var value = UInt64(bitPattern: n)
        var count = 1
        while value >> UInt64(4 * count) != 0 && count < 16 { count += 1 }
        guard let out = scratch.reserve(count) else { return false }
        for i in 0..<count {
            out.storeBytes(of: digits.utf8Start[Int(value & 15)], toByteOffset: count - 1 - i, as: UInt8.self)
            value >>= 4
        }
        return append(scratch.bytes(since: start), options: options, to: target)
    }

    private mutating func appendVariable(_ variable: LogVariable, options: LogFormatOptions, to target: RenderTarget) -> Bool {
        let value: SampleValue
        switch variable {
        case .clientIP: value = fetch(.source, valueIndex: nil)
        case .clientPort: value = fetch(.sourcePort, valueIndex: nil)
        case .frontendIP: value = fetch(.destination, valueIndex: nil)
        case .frontendPort: value = fetch(.destinationPort, valueIndex: nil)
        case .frontendName, .frontendNameTransport: value = fetch(.frontendName, valueIndex: nil)
        case .backendName: value = fetch(.backendName, valueIndex: nil)
        case .serverName: value = fetch(.serverName, valueIndex: nil)
        case .httpMethod: value = fetch(.method, valueIndex: nil)
        case .httpPath, .httpPathOnly: value = fetch(.path, valueIndex: nil)
        case .httpQuery:
            guard kind == .request else { return appendDash(options, to: target) }
            if !hasQuery { return append(UnsafeRawBufferPointer(start: nil, count: 0), options: options, to: target) }
            let start = scratch.mark
            guard scratch.append(UInt8(ascii: "?")), scratch.append(query) else { return false }
            value = .bytes(scratch.bytes(since: start))
        case .httpURI: value = fetch(.url, valueIndex: nil)
        case .httpVersion:
            guard kind == .request else { return appendDash(options, to: target) }
            let text: StaticString = versionMinor == 0 ? "HTTP/1.0" : "HTTP/1.1"
            value = .bytes(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        case .httpRequest:
            guard kind == .request, let requestTarget = currentTarget() else { return appendDash(options, to: target) }
            let start = scratch.mark
            let version: StaticString = versionMinor == 0 ? " HTTP/1.0" : " HTTP/1.1"
            guard scratch.append(method), scratch.append(UInt8(ascii: " ")), scratch.append(requestTarget),
                  scratch.append(version) else { return false }
            value = .bytes(scratch.bytes(since: start))
        case .statusCode: value = fetch(.status, valueIndex: nil)
        case .uniqueID: value = fetch(.uniqueID, valueIndex: nil)
        case .pid: value = .integer(Int64(getpid()))
        case .timestamp: value = .integer(Clock.wallMilliseconds() / 1000)
        case .hostname:
            let start = scratch.mark
            guard let out = scratch.reserve(256) else { return false }
            guard gethostname(out.assumingMemoryBound(to: CChar.self), 255) == 0 else { return appendDash(options, to: target) }
            out.storeBytes(of: 0, toByteOffset: 255, as: UInt8.self)
            let length = strlen(out.assumingMemoryBound(to: CChar.self))
            scratch.rewind(to: start + length)
            value = .bytes(scratch.bytes(since: start))
        default:
            return appendDash(options, to: target)
        }
        if case .integer(let n) = value, options.hex { return appendHex(n, to: target, options: options) }
        guard let bytes = bytes(of: value) else { return appendDash(options, to: target) }
        return append(bytes, options: options, to: target)
    }

    private mutating func appendDash(_ options: LogFormatOptions, to target: RenderTarget) -> Bool {
        let dash: StaticString = "-"
        return append(UnsafeRawBufferPointer(start: dash.utf8Start, count: 1), options: options, to: target)
    }
}

// MARK: - Whole log lines

/// Which bytes HAProxy writes as `#XX` in a log line (configuration manual
/// §8.6): outside 32…126, `"` and `#`, and for header captures `{`, `|`, `}` too.
enum LogEncoding {
    /// The request line and its parts (`%r`, `%HU`, …).
    case url
    /// Captured headers (`%hr`, `%hs`, …).
    case header

    @inline(__always)
    func encodes(_ byte: UInt8) -> Bool {
        if byte < 32 || byte >= 127 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "#") { return true }
        return self == .header && (byte == UInt8(ascii: "{") || byte == UInt8(ascii: "|") || byte == UInt8(ascii: "}"))
    }
}

extension LineBuffer {
    private static let hexDigits: StaticString = "0123456789ABCDEF"

    @inline(__always)
    private mutating func appendHexDigit(_ value: UInt8) {
        append(LineBuffer.hexDigits.utf8Start[Int(value & 15)])
    }

    /// `%{+E}`: `"`, `\` and `]` get a backslash (RFC 5424 PARAM-VALUE).
    @inline(__always)
    private mutating func appendEscaping(_ byte: UInt8, _ options: LogFormatOptions) {
        if options.escape && (byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "]")) {
            append(UInt8(ascii: "\\"))
        }
        append(byte)
    }

    /// A text field as HAProxy writes one: quoted with `+Q`, escaped with
    /// `+E`. An empty or missing value is `-` in a log line (`mandatory`),
    /// `""` when quoted, nothing in a unique id.
    mutating func appendField(_ bytes: UnsafeRawBufferPointer?, _ options: LogFormatOptions, mandatory: Bool) {
        if options.quote { append(UInt8(ascii: "\"")) }
        if let bytes, bytes.count > 0 {
            if options.escape {
                for byte in bytes { appendEscaping(byte, options) }
            } else {
                append(bytes)
            }
        } else if mandatory && !options.quote {
            append(UInt8(ascii: "-"))
        }
        if options.quote { append(UInt8(ascii: "\"")) }
    }

    /// Bytes with HAProxy's `#XX` encoding of what `encoding` names (no quotes).
    mutating func appendEncoded(_ bytes: UnsafeRawBufferPointer, _ encoding: LogEncoding, _ options: LogFormatOptions) {
        for byte in bytes {
            if encoding.encodes(byte) {
                append(UInt8(ascii: "#"))
                appendHexDigit(byte >> 4)
                appendHexDigit(byte)
            } else {
                appendEscaping(byte, options)
            }
        }
    }

    /// Upper-case hexadecimal, at least `digits` digits (`%04X`).
    mutating func append(hex value: UInt64, digits: Int) {
        var count = 1
        while count < 16 && value >> UInt64(4 * count) != 0 { count += 1 }
        count = max(count, digits)
        var shift = 4 * (count - 1)
        while shift >= 0 {
            appendHexDigit(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
            shift -= 4
        }
    }
}

/// What a log line (or a unique id) says about one exchange, or about one
/// `mode tcp` session: gathered once, before the line is rendered. Times
/// are milliseconds, -1 for a step never reached (configuration manual §8.4).
struct LogContext {
    var slot: UInt32
    /// `option logasap`: `%Tt`, `%Ta` and `%B` are not final and get a `+`.
    var early = false
    var frontend: Int
    /// -1: the exchange never reached a backend (`%b` is the frontend then).
    var backend = -1
    /// -1: `<NOSRV>`.
    var server = -1
    var peer: PeerAddress
    var clientFD: Int32
    /// The client side's TLS connection, for `ssl_fc*` in a layer-4 log.
    var tls: OpaquePointer?
    /// The server side's, for `ssl_bc*`.
    var serverTLS: OpaquePointer?
    var isHTTP: Bool
    /// Wall clock ms: when the stream began (the accept, or for a later
    /// request on a kept connection the end of the previous one), and when
    /// its request's first byte came.
    var streamWall: Int64 = 0
    var requestWall: Int64 = 0
    /// Th, Ti, TR, Tq, Tw, Tc, Tr, Ta, Tt, Td.
    var handshakeTime: Int64 = 0
    var idleTime: Int64 = -1
    var requestTime: Int64 = -1
    var requestHeadersTime: Int64 = -1
    var queueTime: Int64 = -1
    var connectTime: Int64 = -1
    var responseTime: Int64 = -1
    var activeTime: Int64 = 0
    var totalTime: Int64 = 0
    var dataTime: Int64 = -1
    /// -1 before a status is known.
    var status: Int64 = -1
    /// Server to client, and client to server.
    var bytesOut: Int64 = 0
    var bytesIn: Int64 = 0
    /// The termination state: who ended it, in which phase, then the two
    /// persistence cookie characters (`-`: no cookie persistence).
    var cause = UInt8(ascii: "-")
    var phase = UInt8(ascii: "-")
    var requestCookie = UInt8(ascii: "-")
    var responseCookie = UInt8(ascii: "-")
    var activeConnections = 0
    var frontendConnections = 0
    var backendConnections = 0
    var serverConnections = 0
    var retries = 0
    var redispatched = false
    var serverQueue = 0
    var backendQueue = 0
    /// The request line as received; nil when none was (`<BADREQ>`).
    var requestLine: UnsafeRawBufferPointer?
    /// `%rt`: the worker's count of streams when this one began.
    var streamID: Int64 = 0
    /// The address the client connected to, read once when a line needs it.
    var local: SocketAddress?
    var localRead = false

    init(slot: UInt32, frontend: Int, peer: PeerAddress, clientFD: Int32, isHTTP: Bool) {
        self.slot = slot
        self.frontend = frontend
        self.peer = peer
        self.clientFD = clientFD
        self.isHTTP = isHTTP
    }

    /// HAProxy's idea of an error worth `log-separate-errors` and
    /// `dontlog-normal`: a termination other than normal or local, a
    /// retry, a redispatch, or a 5xx status.
    var isError: Bool {
        if redispatched || retries > 0 { return true }
        if cause != UInt8(ascii: "-") && cause != UInt8(ascii: "L") { return true }
        return isHTTP && status >= 500
    }

    mutating func localAddress() -> SocketAddress? {
        if !localRead {
            localRead = true
            local = clientFD >= 0 ? try? Posix.localAddress(clientFD) : nil
        }
        return local
    }
}

private let monthNames: [StaticString] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

extension Worker {
    /// Renders a log-format string for `c` into `logger.line`, as HAProxy
    /// builds a log line: a run of spaces is one separator, written only
    /// after something else (so fields that write nothing, like `%hr`
    /// without captures, leave no double space); missing text is `-` when
    /// `mandatory` (log lines) and nothing otherwise (unique ids).
    /// `%[sample]` reads what the rules engine holds for the slot; with
    /// `layer4Samples`, only what outlives the messages (variables,
    /// captures, addresses), as at the end of an exchange.
    mutating func renderLog(_ format: CompiledLogFormat, _ c: inout LogContext, mandatory: Bool, layer4Samples: Bool) {
        var lastWasSpace = true
        for node in format.nodes {
            switch node {
            case .literal(let bytes):
                var i = 0
                while i < bytes.count {
                    if bytes[i] == UInt8(ascii: " ") {
                        while i < bytes.count && bytes[i] == UInt8(ascii: " ") { i += 1 }
                        if !lastWasSpace {
                            logger.line.append(UInt8(ascii: " "))
                            lastWasSpace = true
                        }
                        continue
                    }
                    let start = i
                    while i < bytes.count && bytes[i] != UInt8(ascii: " ") { i += 1 }
                    logger.line.append(UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
                    lastWasSpace = false
                }
            case .sample(let sample, let options):
                renderSample(sample, options, c, mandatory: mandatory, layer4: layer4Samples)
                lastWasSpace = false
            case .variable(let variable, let options):
                if renderVariable(variable, options, &c, mandatory: mandatory) { lastWasSpace = false }
            }
        }
    }

    private mutating func renderSample(_ sample: CompiledSample, _ options: LogFormatOptions, _ c: LogContext,
                                       mandatory: Bool, layer4: Bool) {
        let savedKind = rules.kind
        let savedInput = rules.input
        if layer4 {
            rules.kind = .connection
            var input = SampleInput(slot: c.slot, peer: c.peer, clientFD: c.clientFD, local: c.local, frontend: c.frontend)
            input.backend = c.backend
            input.server = c.server
            input.tls = c.tls
            input.serverTLS = c.serverTLS
            rules.input = input
        }
        let mark = rules.scratch.mark
        let value = rules.sampleValue(sample)
        if case .integer(let n) = value, options.hex {
            logger.line.append(hex: UInt64(bitPattern: n), digits: 1)
        } else {
            logger.line.appendField(rules.bytes(of: value), options, mandatory: mandatory)
        }
        rules.scratch.rewind(to: mark)
        if layer4 {
            rules.kind = savedKind
            rules.input = savedInput
        }
    }

    /// Writes one `%var`; false when it wrote nothing at all (captures
    /// blocks with no capture declared), so a following separator is not doubled.
    private mutating func renderVariable(_ variable: LogVariable, _ options: LogFormatOptions, _ c: inout LogContext,
                                         mandatory: Bool) -> Bool {
        switch variable {
        case .clientIP:
            appendAddress(c.peer, options, mandatory: mandatory)
        case .clientPort:
            appendPort(c.peer, options)
        case .frontendIP:
            if let local = c.localAddress() { appendAddress(PeerAddress(local), options, mandatory: mandatory) } else { dash(options, mandatory) }
        case .frontendPort:
            if let local = c.localAddress() { appendPort(PeerAddress(local), options) } else { dash(options, mandatory) }
        case .serverIP, .serverPort:
            guard c.backend >= 0, c.server >= 0 else {
                dash(options, mandatory)
                return true
            }
            let address = backends[c.backend].servers[c.server].address
            if variable == .serverIP { appendAddress(PeerAddress(address), options, mandatory: mandatory) } else { appendPort(PeerAddress(address), options) }
        case .backendSourceIP, .backendSourcePort:
            dash(options, mandatory)
        case .sslCiphers, .sslVersion:
            guard let tls = c.tls,
                  let name = variable == .sslCiphers ? TLSConnection.cipherName(tls) : TLSConnection.protocolName(tls) else {
                dash(options, mandatory)
                return true
            }
            logger.line.appendField(UnsafeRawBufferPointer(start: name, count: strlen(name)), options, mandatory: mandatory)
        case .frontendName:
            frontends[c.frontend].nameBytes.withUnsafeBytes { logger.line.appendField($0, options, mandatory: mandatory) }
        case .frontendNameTransport:
            // `%ft`: the frontend's name, with `~` when the client side is TLS (as HAProxy logs it).
            if c.tls == nil {
                frontends[c.frontend].nameBytes.withUnsafeBytes { logger.line.appendField($0, options, mandatory: mandatory) }
            } else {
                frontends[c.frontend].tlsNameBytes.withUnsafeBytes { logger.line.appendField($0, options, mandatory: mandatory) }
            }
        case .backendName:
            let name = c.backend >= 0 ? backends[c.backend].nameBytes : frontends[c.frontend].nameBytes
            name.withUnsafeBytes { logger.line.appendField($0, options, mandatory: mandatory) }
        case .serverName:
            if c.backend >= 0 && c.server >= 0 {
                backends[c.backend].servers[c.server].nameBytes.withUnsafeBytes {
                    logger.line.appendField($0, options, mandatory: mandatory)
                }
            } else {
                let text: StaticString = "<NOSRV>"
                logger.line.appendField(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount),
                                        options, mandatory: mandatory)
            }
        case .bytesRead:
            if c.early { logger.line.append(UInt8(ascii: "+")) }
            logger.line.append(decimal: c.bytesOut)
        case .bytesUploaded: logger.line.append(decimal: c.bytesIn)
        case .capturedRequestCookie, .capturedResponseCookie:
            var value: UnsafeRawBufferPointer?
            if let capture = rules.compiled.frontends[c.frontend].cookieCapture {
                let slot = variable == .capturedRequestCookie ? capture.requestSlot : capture.responseSlot
                value = rules.sessions.captured(c.slot, slot.index)
            }
            logger.line.appendField(value, options, mandatory: mandatory)
        case .hostname:
            var name = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                        UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            withUnsafeMutableBytes(of: &name) { raw in
                let text = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
                let ok = gethostname(text, raw.count - 1) == 0
                let n = ok ? strnlen(text, raw.count - 1) : 0
                logger.line.appendField(UnsafeRawBufferPointer(start: raw.baseAddress, count: n), options, mandatory: mandatory)
            }
        case .httpMethod, .httpPath, .httpPathOnly, .httpQuery, .httpURI, .httpVersion, .httpRequest:
            appendRequestPart(variable, c.requestLine, options)
        case .uniqueID:
            logger.line.appendField(rules.sessions.uniqueID(c.slot), options, mandatory: mandatory)
        case .statusCode: logger.line.append(decimal: c.status)
        case .gmtDate: appendDate(wallMilliseconds: c.streamWall, gmt: true)
        case .localDate: appendDate(wallMilliseconds: c.streamWall, gmt: false)
        case .timestamp:
            if options.hex { logger.line.append(hex: UInt64(c.streamWall / 1000), digits: 4) } else {
                logger.line.append(decimal: c.streamWall / 1000)
            }
        case .acceptDate: logger.appendLogDate(wallMilliseconds: c.streamWall)
        case .acceptDateMilliseconds:
            if options.hex { logger.line.append(hex: UInt64(c.streamWall % 1000), digits: 2) } else {
                logger.line.append(threeDigits: Int(c.streamWall % 1000))
            }
        case .requestDate: logger.appendLogDate(wallMilliseconds: c.requestWall)
        case .requestDateGMT: appendDate(wallMilliseconds: c.requestWall, gmt: true)
        case .requestDateLocal: appendDate(wallMilliseconds: c.requestWall, gmt: false)
        case .activeTime:
            if c.early { logger.line.append(UInt8(ascii: "+")) }
            logger.line.append(decimal: c.activeTime)
        case .connectTime: logger.line.append(decimal: c.connectTime)
        case .dataTime: logger.line.append(decimal: c.dataTime)
        case .handshakeTime: logger.line.append(decimal: c.handshakeTime)
        case .idleTime: logger.line.append(decimal: c.idleTime)
        case .requestHeadersTime: logger.line.append(decimal: c.requestHeadersTime)
        case .requestTime: logger.line.append(decimal: c.requestTime)
        case .responseTime: logger.line.append(decimal: c.responseTime)
        case .totalTime:
            if c.early { logger.line.append(UInt8(ascii: "+")) }
            logger.line.append(decimal: c.totalTime)
        case .totalActiveTime: logger.line.append(decimal: c.totalTime - max(c.idleTime, 0))
        case .queueTime: logger.line.append(decimal: c.queueTime)
        case .activeConnections: logger.line.append(decimal: c.activeConnections)
        case .frontendConnections: logger.line.append(decimal: c.frontendConnections)
        case .backendConnections: logger.line.append(decimal: c.backendConnections)
        case .serverConnections: logger.line.append(decimal: c.serverConnections)
        case .retries:
            if c.redispatched { logger.line.append(UInt8(ascii: "+")) }
            logger.line.append(decimal: c.retries)
        case .serverQueue: logger.line.append(decimal: c.serverQueue)
        case .backendQueue: logger.line.append(decimal: c.backendQueue)
        case .logCounter:
            appendCounter(Int64(frontends[c.frontend].logCount), options)
        case .requestCounter:
            appendCounter(c.streamID, options)
        case .pid:
            appendCounter(Int64(getpid()), options)
        case .capturedRequestHeaders, .capturedResponseHeaders:
            return appendCaptures(c, response: variable == .capturedResponseHeaders, options, list: false)
        case .capturedRequestHeadersList, .capturedResponseHeadersList:
            return appendCaptures(c, response: variable == .capturedResponseHeadersList, options, list: true)
        case .terminationState:
            appendTerminationState(c, cookies: false)
        case .terminationStateWithCookie:
            appendTerminationState(c, cookies: c.isHTTP)
        }
        return true
    }

    private mutating func dash(_ options: LogFormatOptions, _ mandatory: Bool) {
        logger.line.appendField(nil, options, mandatory: mandatory)
    }

    /// `%{+X}` numbers as `%04X`, else decimal.
    private mutating func appendCounter(_ value: Int64, _ options: LogFormatOptions) {
        if options.hex { logger.line.append(hex: UInt64(bitPattern: value), digits: 4) } else { logger.line.append(decimal: value) }
    }

    private mutating func appendAddress(_ address: PeerAddress, _ options: LogFormatOptions, mandatory: Bool) {
        if options.hex && (address.family == AF_INET || address.family == AF_INET6) {
            address.withIPBytes { ip in
                for byte in ip { logger.line.append(hex: UInt64(byte), digits: 2) }
            }
            return
        }
        var host = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &host) { raw in
            let n = address.formatHost(into: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            logger.line.appendField(UnsafeRawBufferPointer(start: raw.baseAddress, count: n), options, mandatory: mandatory)
        }
    }

    private mutating func appendPort(_ address: PeerAddress, _ options: LogFormatOptions) {
        let port = address.family == AF_UNIX ? 0 : address.port
        if options.hex { logger.line.append(hex: UInt64(port), digits: 4) } else { logger.line.append(decimal: Int(port)) }
    }

    /// `%T`/`%trg` (GMT, `+0000`) and `%Tl`/`%trl` (local time and offset):
    /// `10/Feb/2026:12:00:00 +0100`.
    private mutating func appendDate(wallMilliseconds: Int64, gmt: Bool) {
        var t = time_t(wallMilliseconds / 1000)
        var tm = Glibc.tm()
        if gmt { gmtime_r(&t, &tm) } else { localtime_r(&t, &tm) }
        logger.line.append(twoDigits: Int(tm.tm_mday))
        logger.line.append(UInt8(ascii: "/"))
        logger.line.append(ascii: monthNames[Int(tm.tm_mon)])
        logger.line.append(UInt8(ascii: "/"))
        logger.line.append(decimal: Int(tm.tm_year) + 1900)
        logger.line.append(UInt8(ascii: ":"))
        logger.line.append(twoDigits: Int(tm.tm_hour))
        logger.line.append(UInt8(ascii: ":"))
        logger.line.append(twoDigits: Int(tm.tm_min))
        logger.line.append(UInt8(ascii: ":"))
        logger.line.append(twoDigits: Int(tm.tm_sec))
        logger.line.append(UInt8(ascii: " "))
        let offset = gmt ? 0 : Int(tm.tm_gmtoff) / 60
        logger.line.append(offset < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        logger.line.append(twoDigits: abs(offset) / 60)
        logger.line.append(twoDigits: abs(offset) % 60)
    }

    /// `%hr`/`%hs`: `{a|b}` in declaration order (`http-request capture`
    /// slots last); `%hrl`/`%hsl`: one field each, `-` when empty. Nothing
    /// at all when the frontend declares no capture.
    private mutating func appendCaptures(_ c: LogContext, response: Bool, _ options: LogFormatOptions, list: Bool) -> Bool {
        let proxy = rules.compiled.frontends[c.frontend]
        let slots = response ? proxy.responseCaptures : proxy.requestCaptures
        guard !slots.isEmpty else { return false }
        if !list {
            if options.quote { logger.line.append(UInt8(ascii: "\"")) }
            logger.line.append(UInt8(ascii: "{"))
        }
        for (i, capture) in slots.enumerated() {
            let value = rules.sessions.captured(c.slot, capture.index)
            if list {
                if i > 0 { logger.line.append(UInt8(ascii: " ")) }
                if options.quote { logger.line.append(UInt8(ascii: "\"")) }
                if let value { logger.line.appendEncoded(value, .header, options) } else if !options.quote {
                    logger.line.append(UInt8(ascii: "-"))
                }
                if options.quote { logger.line.append(UInt8(ascii: "\"")) }
            } else {
                if i > 0 { logger.line.append(UInt8(ascii: "|")) }
                if let value { logger.line.appendEncoded(value, .header, options) }
            }
        }
        if !list {
            logger.line.append(UInt8(ascii: "}"))
            if options.quote { logger.line.append(UInt8(ascii: "\"")) }
        }
        return true
    }

    /// `%r` and its parts, from the request line as received:
    /// `<BADREQ>` when there was none (or it has no target).
    private mutating func appendRequestPart(_ variable: LogVariable, _ line: UnsafeRawBufferPointer?,
                                            _ options: LogFormatOptions) {
        let badRequest: StaticString = "<BADREQ>"
        let bad = UnsafeRawBufferPointer(start: badRequest.utf8Start, count: badRequest.utf8CodeUnitCount)
        var part = bad
        if let line {
            @inline(__always) func isSpace(_ b: UInt8) -> Bool { b == 32 || b == 9 }
            var methodEnd = 0
            while methodEnd < line.count && !isSpace(line[methodEnd]) { methodEnd += 1 }
            var targetStart = methodEnd
            while targetStart < line.count && isSpace(line[targetStart]) { targetStart += 1 }
            var targetEnd = targetStart
            while targetEnd < line.count && !isSpace(line[targetEnd]) { targetEnd += 1 }
            var versionStart = targetEnd
            while versionStart < line.count && isSpace(line[versionStart]) { versionStart += 1 }
            let hasTarget = targetStart > methodEnd
            var queryStart = targetStart
            while queryStart < targetEnd && line[queryStart] != UInt8(ascii: "?") { queryStart += 1 }
            switch variable {
            case .httpRequest: part = line
            case .httpMethod: if methodEnd < line.count { part = line.slice(0, methodEnd) }
            case .httpURI: if hasTarget { part = line.slice(targetStart, targetEnd) }
            case .httpPath: if hasTarget { part = line.slice(targetStart, queryStart) }
            case .httpQuery: part = line.slice(queryStart, targetEnd)
            case .httpPathOnly:
                if hasTarget {
                    var start = targetStart
                    if line[start] != UInt8(ascii: "/") {
                        // `scheme://authority/path`: skip to the path.
                        var slashes = 0
                        while start < queryStart && slashes < 3 {
                            if line[start] == UInt8(ascii: "/") { slashes += 1 }
                            if slashes < 3 { start += 1 }
                        }
                    }
                    part = line.slice(start, queryStart)
                }
            case .httpVersion:
                if hasTarget {
                    if versionStart == line.count {
                        let old: StaticString = "HTTP/0.9"
                        part = UnsafeRawBufferPointer(start: old.utf8Start, count: old.utf8CodeUnitCount)
                    } else {
                        part = line.slice(versionStart, line.count)
                    }
                }
            default: break
            }
        } else if variable == .httpQuery {
            part = bad
        }
        if options.quote { logger.line.append(UInt8(ascii: "\"")) }
        logger.line.appendEncoded(part, .url, options)
        if options.quote { logger.line.append(UInt8(ascii: "\"")) }
    }
}
