import Glibc
import WeirConfig
import WeirHTTP
import WeirSystem
import WeirTLS

extension RuleEngine {
    /// The value of a sample: its fetch, then its converters in order.
    /// `valueIndex` picks one of the values of a fetch that has several (an
    /// ACL tries them in turn); nil asks for the fetch's single value.
    mutating func sampleValue(_ sample: CompiledSample, valueIndex: Int? = nil) -> SampleValue {
        var value = fetch(sample.fetch, valueIndex: valueIndex)
        for converter in sample.converters {
            guard value.exists else { return .none }
            value = convert(value, converter)
        }
        return value
    }

    mutating func fetch(_ fetch: CompiledFetch, valueIndex: Int?) -> SampleValue {
        if let valueIndex, valueIndex > 0, !fetch.isMultiValued { return .none }
        switch fetch {
        case .source:
            return IPValue(input.peer).map { .address($0) } ?? .none
        case .sourcePort:
            return input.peer.family == AF_UNIX ? .none : .integer(Int64(input.peer.port))
        case .destination:
            guard let local = localAddress() else { return .none }
            return IPValue(local).map { .address($0) } ?? .none
        case .destinationPort:
            guard let local = localAddress(), local.family != AF_UNIX else { return .none }
            return .integer(Int64(local.port))
        case .method:
            return kind == .request ? .bytes(method) : .none
        case .path:
            return kind == .request ? .bytes(path) : .none
        case .url:
            guard kind == .request, let target = currentTarget() else { return .none }
            return .bytes(target)
        case .query:
            return kind == .request && hasQuery ? .bytes(query) : .none
        case .base:
            guard kind == .request else { return .none }
            let start = scratch.mark
            if let host = firstValue(named: "host"), !scratch.append(host) { return .none }
            guard scratch.append(path) else {
                scratch.rewind(to: start)
                return .none
            }
            return .bytes(scratch.bytes(since: start))
        case .requestVersion:
            guard kind == .request else { return .none }
            let text: StaticString = versionMinor == 0 ? "1.0" : "1.1"
            return .bytes(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        case .urlParameter(let name):
            guard kind == .request, hasQuery else { return .none }
            return urlParameter(name, valueIndex: valueIndex ?? 0)
        case .requestBody:
            guard kind == .request, let body = decodedRequestBody() else { return .none }
            return .bytes(body)
        case .requestBodyLength:
            guard kind == .request, let body = decodedRequestBody() else { return .none }
            return .integer(Int64(body.count))
        case .requestBodySize:
            guard kind == .request else { return .none }
            if requestBodyLength >= 0 { return .integer(requestBodyLength) }
            guard let body = decodedRequestBody() else { return .none }
            return .integer(Int64(body.count))
        case .requestBodyParameter(let name, let ignoreCase):
            guard kind == .request, let body = decodedRequestBody() else { return .none }
            return formParameter(name, ignoreCase: ignoreCase, in: body, valueIndex: valueIndex ?? 0)
        case .header(let selector):
            guard kind == (selector.inResponse ? .response : .request), let name = selector.name else { return .none }
            return headerValue(name, selector: selector, valueIndex: valueIndex)
        case .headerCount(let selector):
            guard kind == (selector.inResponse ? .response : .request) else { return .none }
            var count: Int64 = 0
            forEachHeaderValue(selector.name, split: selector.splitsValues) { _ in
                count += 1
                return false
            }
            return .integer(count)
        case .cookie(let name):
            guard kind == .request else { return .none }
            return cookie(name, valueIndex: valueIndex)
        case .cookieCount(let name):
            guard kind == .request else { return .none }
            var count: Int64 = 0
            forEachCookie { cookieName, _ in
                if name == nil || ByteMatching.equal(cookieName, name!, ignoreCase: false) { count += 1 }
                return false
            }
            return .integer(count)
        case .status:
            return kind == .response ? .integer(Int64(status)) : .none
        case .usableServers(let backend):
            return backend >= 0 && backend < usableServers.count ? .integer(Int64(usableServers[backend])) : .none
        case .variable(let variable):
            return sessions.value(input.slot, variable)
        case .date(let offset, let perSecond):
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            return .integer((Int64(now.tv_sec) &+ offset) &* perSecond &+ Int64(now.tv_nsec) / (1_000_000_000 / perSecond))
        case .random(let range):
            return .integer(Int64.random(in: 0..<range))
        case .processID:
            return .integer(Int64(getpid()))
        case .uuid:
            return randomUUID().map { .bytes($0) } ?? .none
        case .absent:
            return .none
        case .constant(let bytes):
            return .bytes(bytes)
        case .boolean(let value):
            return .boolean(value)
        case .uniqueID:
            return sessions.uniqueID(input.slot).map { .bytes($0) } ?? .none
        case .proxyUniqueID:
            return sessions.proxyUniqueID(input.slot).map { .bytes($0) } ?? .none
        case .httpAuth(let userlist):
            return kind == .request ? .boolean(authenticatedUser(userlist) != nil) : .none
        case .httpAuthGroup(let userlist):
            guard kind == .request, let user = authenticatedUser(userlist) else { return .none }
            let groups = compiled.userlists[userlist].users[user].groups
            let index = valueIndex ?? 0
            return index < groups.count ? .bytes(groups[index]) : .none
        case .capturedHeader(let index, let inResponse):
            let frontend = compiled.frontends[input.frontend]
            let slots = inResponse ? frontend.responseCaptures : frontend.requestCaptures
            guard index < slots.count, let bytes = sessions.captured(input.slot, slots[index].index) else { return .none }
            return .bytes(bytes)
        case .stickCounter(let counter):
            return stickFetch(counter)
        case .frontendName:
            return .bytes(compiled.frontends[input.frontend].name)
        case .backendName:
            return input.backend >= 0 ? .bytes(compiled.backends[input.backend].name) : .none
        case .serverName:
            guard input.backend >= 0, input.server >= 0 else { return .none }
            return .bytes(compiled.serverNames[input.backend][input.server])
        case .sslFrontend:
            return .boolean(input.tls != nil)
        case .sslFrontendSNI:
            guard let tls = input.tls, let name = TLSConnection.serverName(tls) else { return .none }
            return .bytes(UnsafeRawBufferPointer(start: name, count: strlen(name)))
        case .sslFrontendProtocol:
            return Self.protocolName(input.tls)
        case .sslFrontendCipher:
            return Self.cipherName(input.tls)
        case .sslFrontendALPN:
            return Self.alpn(input.tls)
        case .sslBackend:
            return .boolean(input.serverTLS != nil)
        case .sslBackendProtocol:
            return Self.protocolName(input.serverTLS)
        case .sslBackendCipher:
            return Self.cipherName(input.serverTLS)
        case .sslBackendALPN:
            return Self.alpn(input.serverTLS)
        case .sslClientHasCertificate:
            guard let tls = input.tls else { return .none }
            return .boolean(TLSConnection.clientVerification(tls).presented)
        case .sslClientUsed:
            guard let tls = input.tls else { return .none }
            return .boolean(TLSConnection.certificate(tls, client: true) != nil)
        case .sslClientVerify(let field):
            guard let tls = input.tls else { return .none }
            switch field {
            case .result: return .integer(Int64(TLSConnection.verifyResult(tls)))
            case .error: return .integer(Int64(TLSConnection.clientVerification(tls).error))
            case .caError: return .integer(Int64(TLSConnection.clientVerification(tls).caError))
            case .caErrorDepth: return .integer(Int64(TLSConnection.clientVerification(tls).caErrorDepth))
            }
        case .sslCertificate(let field, let client):
            guard let tls = input.tls, let certificate = TLSConnection.certificate(tls, client: client) else { return .none }
            return certificateValue(certificate, field)
        case .content(let fetch):
            return contentSample(fetch, valueIndex: valueIndex ?? 0)
        }
    }

    /// A certificate field: names and numbers straight from OpenSSL, bytes
    /// written into the scratch arena.
    private mutating func certificateValue(_ certificate: OpaquePointer, _ field: CompiledCertificateField) -> SampleValue {
        func name(_ text: UnsafePointer<CChar>?) -> SampleValue {
            guard let text else { return .none }
            return .bytes(UnsafeRawBufferPointer(start: text, count: strlen(text)))
        }
        switch field {
        case .version: return .integer(Int64(TLSConnection.version(of: certificate)))
        case .signatureAlgorithm: return name(TLSConnection.signatureAlgorithm(of: certificate))
        case .keyAlgorithm: return name(TLSConnection.keyAlgorithm(of: certificate))
        default: break
        }
        let start = scratch.mark
        let capacity = scratch.capacity - start
        guard let out = scratch.reserve(capacity) else { return .none }
        let written: Int?
        switch field {
        case .distinguishedName(let issuer, let entry, let occurrence, let rfc2253):
            written = TLSConnection.writeDistinguishedName(of: certificate, issuer: issuer, entry: entry, occurrence: occurrence,
                                                           rfc2253: rfc2253, to: out, capacity: capacity)
        case .serial: written = TLSConnection.write(.serial, of: certificate, to: out, capacity: capacity)
        case .sha1: written = TLSConnection.write(.sha1, of: certificate, to: out, capacity: capacity)
        case .der: written = TLSConnection.write(.der, of: certificate, to: out, capacity: capacity)
        case .notBefore: written = TLSConnection.write(.notBefore, of: certificate, to: out, capacity: capacity)
        case .notAfter: written = TLSConnection.write(.notAfter, of: certificate, to: out, capacity: capacity)
        case .version, .signatureAlgorithm, .keyAlgorithm: written = nil
        }
        guard let written else {
            scratch.rewind(to: start)
            return .none
        }
        scratch.rewind(to: start + written)
        return .bytes(UnsafeRawBufferPointer(start: out, count: written))
    }

    /// `ssl_fc_protocol`, `ssl_bc_protocol`.
    private static func protocolName(_ tls: OpaquePointer?) -> SampleValue {
        guard let tls, let name = TLSConnection.protocolName(tls) else { return .none }
        return .bytes(UnsafeRawBufferPointer(start: name, count: strlen(name)))
    }

    /// `ssl_fc_cipher`, `ssl_bc_cipher`.
    private static func cipherName(_ tls: OpaquePointer?) -> SampleValue {
        guard let tls, let name = TLSConnection.cipherName(tls) else { return .none }
        return .bytes(UnsafeRawBufferPointer(start: name, count: strlen(name)))
    }

    /// `ssl_fc_alpn`, `ssl_bc_alpn`: none when no protocol was agreed.
    private static func alpn(_ tls: OpaquePointer?) -> SampleValue {
        guard let tls else { return .none }
        let alpn = TLSConnection.alpn(tls)
        return alpn.isEmpty ? .none : .bytes(alpn)
    }

    /// The address the client connected to, read once per evaluation.
    private mutating func localAddress() -> SocketAddress? {
        if let local = input.local { return local }
        guard input.clientFD >= 0, let local = try? Posix.localAddress(input.clientFD) else { return nil }
        input.local = local
        return local
    }

    // MARK: - Headers

    /// Calls `body` with each value of the fields named `lowercaseName`
    /// (every field when nil), split at commas when `split`; stops when
    /// `body` returns true.
    func forEachHeaderValue(_ lowercaseName: UnsafeRawBufferPointer?, split: Bool,
                            _ body: (UnsafeRawBufferPointer) -> Bool) {
        for i in 0..<fieldCount where !fields[i].removed {
            if let lowercaseName, !ByteMatching.equal(fields[i].name, lowercaseName, ignoreCase: true) { continue }
            let value = fields[i].value
            if !split {
                if body(value) { return }
                continue
            }
            // An empty field is one empty value; otherwise its non-empty elements.
            if value.count == 0 {
                if body(value) { return }
                continue
            }
            for element in ListElements(value) where body(element) { return }
        }
    }

    private mutating func headerValue(_ name: UnsafeRawBufferPointer, selector: HeaderSelector, valueIndex: Int?) -> SampleValue {
        var wanted: Int
        if let occurrence = selector.occurrence, occurrence != 0 {
            if occurrence > 0 {
                wanted = occurrence - 1
            } else {
                var total = 0
                forEachHeaderValue(name, split: selector.splitsValues) { _ in
                    total += 1
                    return false
                }
                wanted = total + occurrence
                if wanted < 0 { return .none }
            }
        } else if let valueIndex {
            wanted = valueIndex
        } else {
            // The last value.
            var last: UnsafeRawBufferPointer?
            forEachHeaderValue(name, split: selector.splitsValues) { value in
                last = value
                return false
            }
            return last.map { .bytes($0) } ?? .none
        }
        var found: UnsafeRawBufferPointer?
        forEachHeaderValue(name, split: selector.splitsValues) { value in
            if wanted == 0 {
                found = value
                return true
            }
            wanted -= 1
            return false
        }
        return found.map { .bytes($0) } ?? .none
    }

    // MARK: - Cookies and query parameters

    /// Calls `body` with each `name=value` of the request's Cookie fields;
    /// stops when `body` returns true.
    func forEachCookie(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Bool) {
        for i in 0..<fieldCount where !fields[i].removed
            && ByteMatching.equal(fields[i].name, UnsafeRawBufferPointer(start: Self.cookieName.utf8Start, count: 6),
                                  ignoreCase: true) {
            let value = fields[i].value
            var start = 0
            while start < value.count {
                var end = start
                while end < value.count && value[end] != UInt8(ascii: ";") { end += 1 }
                var from = start
                while from < end && (value[from] == 32 || value[from] == 9) { from += 1 }
                var equals = from
                while equals < end && value[equals] != UInt8(ascii: "=") { equals += 1 }
                if equals < end {
                    var to = end
                    while to > equals + 1 && (value[to - 1] == 32 || value[to - 1] == 9) { to -= 1 }
                    if body(value.slice(from, equals), value.slice(equals + 1, to)) { return }
                }
                start = end + 1
            }
        }
    }

    private static let cookieName: StaticString = "cookie"

    /// A named cookie's value: the last one, or the `valueIndex`-th in an
    /// ACL; nil name: the first cookie's value.
    private mutating func cookie(_ name: UnsafeRawBufferPointer?, valueIndex: Int?) -> SampleValue {
        var wanted = valueIndex ?? -1
        var found: UnsafeRawBufferPointer?
        forEachCookie { cookieName, value in
            guard let name else {
                found = value
                return true
            }
            guard ByteMatching.equal(cookieName, name, ignoreCase: false) else { return false }
            if wanted < 0 {
                found = value
                return false
            }
            if wanted == 0 {
                found = value
                return true
            }
            wanted -= 1
            return false
        }
        return found.map { .bytes($0) } ?? .none
    }

    /// The `valueIndex`-th value of a query-string parameter.
    private mutating func urlParameter(_ name: UnsafeRawBufferPointer, valueIndex: Int) -> SampleValue {
        var wanted = valueIndex
        var start = 0
        while start < query.count {
            var end = start
            while end < query.count && query[end] != UInt8(ascii: "&") { end += 1 }
            let parameter = query.slice(start, end)
            if parameter.count > name.count, parameter[name.count] == UInt8(ascii: "="),
               ByteMatching.hasPrefix(parameter, name, ignoreCase: false) {
                if wanted == 0 { return .bytes(parameter.slice(name.count + 1, parameter.count)) }
                wanted -= 1
            }
            start = end + 1
        }
        return .none
    }
}
