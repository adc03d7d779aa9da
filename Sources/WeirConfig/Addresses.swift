// Address forms of `bind`, `server` and `log`, with HAProxy's prefixes
// (`ipv4@`, `ipv6@`, `unix@`, `fd@`, `udp@`…). A server's host name stays
// a name; a `log` target's is resolved once, when the configuration is
// read, as HAProxy does.

import Glibc

enum AddressFamily { case any, v4, v6 }

enum Addresses {
    // MARK: IP literals

    static func parseIPv4(_ text: Substring) -> IPAddress? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let v = Int(p), v <= 255 else { return nil }
            bytes.append(UInt8(v))
        }
        return IPAddress(bytes: bytes)
    }

    static func parseIPv6(_ text: Substring) -> IPAddress? {
        if text.isEmpty { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        if let r = text.firstRange(of: "::") {
            sawGap = true
            let left = text[text.startIndex..<r.lowerBound]
            let right = text[r.upperBound...]
            if right.contains("::") { return nil }
            guard let l = groups(left), let rr = groups(right, allowV4Tail: true) else { return nil }
            head = l
            tail = rr
        } else {
            guard let g = groups(text, allowV4Tail: true) else { return nil }
            head = g
        }
        let total = head.count + tail.count
        if sawGap ? total > 7 : total != 8 { return nil }
        let all = head + [UInt16](repeating: 0, count: 8 - total) + tail
        var bytes: [UInt8] = []
        for g in all { bytes.append(UInt8(g >> 8)); bytes.append(UInt8(g & 0xFF)) }
        return IPAddress(bytes: bytes)
    }

    /// Colon-separated hex groups; an IPv4 tail counts as two groups.
    private static func groups(_ text: Substring, allowV4Tail: Bool = false) -> [UInt16]? {
        if text.isEmpty { return [] }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        var out: [UInt16] = []
        for (i, p) in parts.enumerated() {
            if allowV4Tail, i == parts.count - 1, p.contains(".") {
                guard let v4 = parseIPv4(p) else { return nil }
                out.append(UInt16(v4.bytes[0]) << 8 | UInt16(v4.bytes[1]))
                out.append(UInt16(v4.bytes[2]) << 8 | UInt16(v4.bytes[3]))
                continue
            }
            guard !p.isEmpty, p.count <= 4, let v = UInt16(p, radix: 16) else { return nil }
            out.append(v)
        }
        return out
    }

    static func parseIP(_ text: Substring, family: AddressFamily) -> IPAddress? {
        switch family {
        case .v4: return parseIPv4(text)
        case .v6: return parseIPv6(text)
        case .any: return parseIPv4(text) ?? parseIPv6(text)
        }
    }

    /// Splits `host:port`, `[v6]:port` or `v6:port` (the last colon is the
    /// port's). The port is nil when none is written.
    static func splitHostPort(_ text: Substring, preferBareIPv6: Bool = false) -> (host: Substring, port: Substring?, bracketed: Bool)? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return (host, nil, true) }
            guard rest.hasPrefix(":") else { return nil }
            return (host, rest.dropFirst(), true)
        }
        // A bare IPv6 literal has no port.
        if preferBareIPv6, text.filter({ $0 == ":" }).count > 1, parseIPv6(text) != nil {
            return (text, nil, false)
        }
        guard let colon = text.lastIndex(of: ":") else { return (text, nil, false) }
        return (text[..<colon], text[text.index(after: colon)...], false)
    }

    static func parsePort(_ text: Substring) -> UInt16? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }),
              let v = Int(text), v >= 1, v <= 65535 else { return nil }
        return UInt16(v)
    }

    /// Splits a `prefix@rest` address; nil prefix when there is none.
    static func splitPrefix(_ text: Substring) -> (prefix: String?, rest: Substring) {
        guard let at = text.firstIndex(of: "@") else { return (nil, text) }
        let prefix = text[..<at]
        // Only a word of letters and digits is a prefix ("ipv4@", "fd@").
        guard !prefix.isEmpty, prefix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            return (nil, text)
        }
        return (String(prefix), text[text.index(after: at)...])
    }

    static func loopback(_ family: AddressFamily) -> IPAddress {
        family == .v6 ? IPAddress(bytes: [UInt8](repeating: 0, count: 15) + [1]) : IPAddress(bytes: [127, 0, 0, 1])
    }

    /// `abns@NAME`: a UNIX socket in Linux's abstract namespace, which the
    /// address's path marks by starting with a NUL (as `sun_path` does).
    static func abstractPath(_ name: Substring) -> String { "\u{0}" + name }

    static let unsupportedPrefixes: Set<String> = [
        "abnsz", "sockpair", "quic4", "quic6", "rhttp", "mptcp", "mptcp4", "mptcp6", "uxst", "uxdg", "ring",
    ]

    // MARK: bind

    /// One comma-separated element of a `bind` line.
    static func parseBind(_ text: Substring) -> Result<[ListenAddress], ParseFailure> {
        let (prefix, rest) = splitPrefix(text)
        var family = AddressFamily.any
        switch prefix {
        case nil: break
        case "ipv4", "tcp4": family = .v4
        case "ipv6", "tcp6": family = .v6
        case "tcp": break
        case "unix":
            guard !rest.isEmpty else { return .failure("bind: expected a path after 'unix@'") }
            return .success([.unix(path: String(rest))])
        case "abns":
            guard !rest.isEmpty else { return .failure("bind: expected a name after 'abns@'") }
            return .success([.unix(path: abstractPath(rest))])
        case "fd":
            guard let fd = Units.integer(String(rest)), fd <= Int(Int32.max) else {
                return .failure("bind: expected a file descriptor number after 'fd@', got '\(rest)'")
            }
            return .success([.inheritedFD(Int32(fd))])
        case "udp", "udp4", "udp6":
            return .failure("bind: '\(prefix!)@' addresses are not supported by Weir yet")
        case let p? where unsupportedPrefixes.contains(p):
            return .failure("bind: '\(p)@' addresses are not supported by Weir yet")
        case let p?:
            return .failure("bind: unknown address prefix '\(p)@'")
        }
        if prefix == nil, rest.hasPrefix("/") { return .success([.unix(path: String(rest))]) }
        if rest.isEmpty { return .failure("bind: expected an address like ':80' or '127.0.0.1:80'") }
        guard let split = splitHostPort(rest) else { return .failure("bind: expected an address like '[::1]:80', got '\(rest)'") }
        if split.bracketed, family == .any { family = .v6 }
        guard let portText = split.port else { return .failure("bind: missing port in '\(text)'") }
        let ip: IPAddress
        if split.host.isEmpty || split.host == "*" {
            ip = family == .v6 ? .anyV6 : .anyV4
        } else if split.host == "localhost" {
            ip = loopback(family)
        } else if let parsed = parseIP(split.host, family: family) {
            ip = parsed
        } else if !split.bracketed, parseIPv6(rest) != nil {
            return .failure("bind: missing port in '\(text)'")
        } else {
            let what = family == .v4 ? "an IPv4 address" : family == .v6 ? "an IPv6 address" : "an IP address"
            return .failure("bind: expected \(what), got '\(split.host)'")
        }
        let (low, high): (UInt16, UInt16)
        if let dash = portText.firstIndex(of: "-") {
            let a = portText[..<dash], b = portText[portText.index(after: dash)...]
            guard let pa = parsePort(a) else { return .failure("bind: expected a port between 1 and 65535, got '\(a)'") }
            guard let pb = parsePort(b) else { return .failure("bind: expected a port between 1 and 65535, got '\(b)'") }
            guard pa <= pb else { return .failure("bind: invalid port range '\(portText)': the first port is higher than the last") }
            (low, high) = (pa, pb)
        } else {
            // A lone port 0 lets the kernel choose (Weir reports the port it got).
            if portText == "0" { return .success([.ip(ip, port: 0)]) }
            guard let p = parsePort(portText) else {
                return .failure("bind: expected a port between 0 and 65535, got '\(portText)'")
            }
            (low, high) = (p, p)
        }
        return .success((low...high).map { .ip(ip, port: $0) })
    }

    // MARK: server

    /// A server's address, and its port offset when its port follows the
    /// client's (`Server.portOffset`): no port, `+N` or `-N`.
    static func parseServer(_ text: Substring) -> Result<(address: ServerAddress, portOffset: Int?), ParseFailure> {
        let (prefix, rest) = splitPrefix(text)
        var family = AddressFamily.any
        switch prefix {
        case nil: break
        case "ipv4", "tcp4": family = .v4
        case "ipv6", "tcp6": family = .v6
        case "tcp": break
        case "unix":
            guard !rest.isEmpty else { return .failure("server: expected a path after 'unix@'") }
            return .success((.unix(path: String(rest)), nil))
        case "abns":
            guard !rest.isEmpty else { return .failure("server: expected a name after 'abns@'") }
            return .success((.unix(path: abstractPath(rest)), nil))
        case let p?:
            if p == "fd" || p == "udp" || p == "udp4" || p == "udp6" || unsupportedPrefixes.contains(p) {
                return .failure("server: '\(p)@' addresses are not supported by Weir yet")
            }
            return .failure("server: unknown address prefix '\(p)@'")
        }
        if prefix == nil, rest.hasPrefix("/") { return .success((.unix(path: String(rest)), nil)) }
        guard !rest.isEmpty, var split = splitHostPort(rest) else {
            return .failure("server: expected an address like 10.0.0.1:80, got '\(text)'")
        }
        // `*` or nothing before the colon: no address of the server's own.
        let anyAddress = split.host.isEmpty || split.host == "*"
        if !split.bracketed, !anyAddress, parseIP(split.host, family: family) == nil, parseIPv6(rest) != nil {
            // A bare IPv6 address (`::1`, `::`): what follows its last colon is not a port.
            split = (rest, nil, false)
        }
        if split.bracketed, family == .any { family = .v6 }
        var port: UInt16 = 0
        var offset: Int?
        if let portText = split.port {
            if let sign = portText.first, sign == "+" || sign == "-" {
                let digits = portText.dropFirst()
                guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                      let n = Int(digits), n <= 65535 else {
                    return .failure("server: expected a port offset between -65535 and +65535, got '\(portText)'")
                }
                offset = sign == "-" ? -n : n
            } else {
                guard let p = parsePort(portText) else {
                    return .failure("server: expected a port between 1 and 65535, got '\(portText)'")
                }
                port = p
            }
        } else if !split.host.hasPrefix("_") {
            // No port: the client's destination port. (An SRV name's records give the port.)
            offset = 0
        }
        if anyAddress { return .success((.ip(family == .v6 ? .anyV6 : .anyV4, port: port), offset)) }
        if let ip = parseIP(split.host, family: family) {
            return .success((.ip(ip, port: port), offset))
        }
        let looksNumeric = split.host.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" }
        if split.bracketed || looksNumeric || !ParserState.isHostName(split.host) || family != .any {
            let what = family == .v4 ? "an IPv4 address" : family == .v6 ? "an IPv6 address" : "an IP address or host name"
            return .failure("server: expected \(what), got '\(split.host)'")
        }
        return .success((.host(String(split.host), port: port), offset))
    }

    // MARK: log

    /// A `log` target: a destination, or a host name still to resolve.
    enum LogAddress: Equatable {
        case destination(LogDestination)
        case name(String, port: UInt16, family: AddressFamily)
    }

    static func parseLog(_ text: Substring) -> Result<LogAddress, ParseFailure> {
        switch text {
        case "stdout", "fd@1": return .success(.destination(.stdout))
        case "stderr", "fd@2": return .success(.destination(.stderr))
        default: break
        }
        let (prefix, rest) = splitPrefix(text)
        var family = AddressFamily.any
        switch prefix {
        case nil: break
        case "ipv4", "udp4": family = .v4
        case "ipv6", "udp6": family = .v6
        case "udp": break
        case "unix":
            guard !rest.isEmpty else { return .failure("log: expected a path after 'unix@'") }
            return .success(.destination(.unixDatagram(path: String(rest))))
        case let p?:
            if p == "fd" || p == "tcp" || p == "tcp4" || p == "tcp6" || unsupportedPrefixes.contains(p) {
                return .failure("log: '\(p)@' targets are not supported by Weir yet")
            }
            return .failure("log: unknown address prefix '\(p)@'")
        }
        if prefix == nil, rest.hasPrefix("/") { return .success(.destination(.unixDatagram(path: String(rest)))) }
        guard !rest.isEmpty, let split = splitHostPort(rest, preferBareIPv6: true) else {
            return .failure("log: expected stdout, stderr, a path or an address like 127.0.0.1:514, got '\(text)'")
        }
        var port: UInt16 = 514
        if let portText = split.port {
            guard let p = parsePort(portText) else {
                return .failure("log: expected a port between 1 and 65535, got '\(portText)'")
            }
            port = p
        }
        if split.host == "localhost" { return .success(.destination(.udp(loopback(family), port: port))) }
        if let ip = parseIP(split.host, family: split.bracketed && family == .any ? .v6 : family) {
            return .success(.destination(.udp(ip, port: port)))
        }
        let looksNumeric = split.host.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" }
        guard !split.bracketed, !looksNumeric, ParserState.isHostName(split.host) else {
            return .failure("log: expected stdout, stderr, a path, an IP address or a host name, got '\(split.host)'")
        }
        return .success(.name(String(split.host), port: port, family: family))
    }

    /// The address of `host` for datagrams, from the system resolver
    /// (`/etc/hosts`, DNS) in `family`, IPv4 first as for servers; else why not.
    static func resolveDatagramHost(_ host: String, family: AddressFamily) -> Result<IPAddress, ParseFailure> {
        var hints = addrinfo()
        hints.ai_family = family == .v4 ? AF_INET : family == .v6 ? AF_INET6 : AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &result)
        guard status == 0, let first = result else {
            return .failure(ParseFailure(String(cString: gai_strerror(status))))
        }
        defer { freeaddrinfo(result) }
        var found: IPAddress?
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor, let address = entry.pointee.ai_addr {
            if entry.pointee.ai_family == AF_INET {
                let v4 = UnsafeRawPointer(address).assumingMemoryBound(to: sockaddr_in.self).pointee
                return .success(IPAddress(bytes: withUnsafeBytes(of: v4.sin_addr) { Array($0) }))
            }
            if found == nil, entry.pointee.ai_family == AF_INET6 {
                let v6 = UnsafeRawPointer(address).assumingMemoryBound(to: sockaddr_in6.self).pointee
                found = IPAddress(bytes: withUnsafeBytes(of: v6.sin6_addr) { Array($0) })
            }
            cursor = entry.pointee.ai_next
        }
        return found.map { .success($0) } ?? .failure("no IPv4 or IPv6 address")
    }
}

extension IPAddress {
    /// An IPv4 or IPv6 address written plainly (no brackets, no port).
    public static func parse(_ text: String) -> IPAddress? {
        Addresses.parseIPv4(Substring(text)) ?? Addresses.parseIPv6(Substring(text))
    }
}
