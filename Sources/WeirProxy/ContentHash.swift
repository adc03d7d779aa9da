import WeirBalance
import WeirConfig

/// Where a backend's hashing balancer takes its key from: `balance source`,
/// `uri`, `url_param`, `hdr` or `hash`, as the configuration says.
enum BalanceKeySource {
    /// Not a hashing algorithm: no key.
    case none
    /// `balance source`: the client's address.
    case source
    /// `balance uri [whole] [len N] [depth N]`: the request target, cut by
    /// `ContentKey.uri`; 0 means no `len` or no `depth`.
    case uri(whole: Bool, length: Int, depth: Int)
    /// `balance url_param NAME [check_post]`.
    case urlParameter([UInt8], checkPost: Bool)
    /// `balance hdr(NAME) [use_domain_only]`, the name lowercased.
    case header([UInt8], domainOnly: Bool)
    /// `balance hash EXPR`: the compiled expression is the backend's entry in
    /// `CompiledRuleSet.balanceSamples`.
    case sample
}

/// `balance` and `hash-type` of one backend, ready for the request path:
/// the balancer's algorithm, where its key comes from, and how content
/// keys are hashed.
struct BalanceHashing {
    let algorithm: Balancer.Algorithm
    let key: BalanceKeySource
    let function: KeyHash
    let avalanche: Bool

    init(balance: BalanceAlgorithm, hashType: HashType) {
        let hashed: Balancer.Algorithm = hashType.method == .consistent ? .consistentHash : .source
        switch balance {
        case .roundRobin: (algorithm, key) = (.roundRobin, .none)
        case .staticRoundRobin: (algorithm, key) = (.staticRoundRobin, .none)
        case .leastConn: (algorithm, key) = (.leastConn, .none)
        case .first: (algorithm, key) = (.first, .none)
        case .random(let draws): (algorithm, key) = (.random(draws: draws), .none)
        case .source: (algorithm, key) = (hashed, .source)
        case .uri(let whole, let length, let depth):
            (algorithm, key) = (hashed, .uri(whole: whole, length: length ?? 0, depth: depth ?? 0))
        case .urlParam(let name, let checkPost): (algorithm, key) = (hashed, .urlParameter(Array(name.utf8), checkPost: checkPost))
        case .header(let name, let domainOnly):
            (algorithm, key) = (hashed, .header(Array(name.lowercased().utf8), domainOnly: domainOnly))
        case .hash: (algorithm, key) = (hashed, .sample)
        }
        switch hashType.function {
        case .sdbm: function = .sdbm
        case .djb2: function = .djb2
        case .wt6: function = .wt6
        case .crc32: function = .crc32
        case .none: function = .identity
        }
        avalanche = hashType.avalanche
    }

    /// The balancer's key for content `bytes`: HAProxy's 32-bit hash with
    /// the backend's function (and `avalanche`), so that with
    /// `hash-type consistent` a key reaches the server it reaches in HAProxy
    /// given the same server ids and weights.
    func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        UInt64(KeyHash.hash(bytes, function: function, avalanche: avalanche))
    }
}

/// How HAProxy 2.6 (`backend.c`, `get_server_uh`, `get_server_ph`,
/// `get_server_hh`, `get_server_expr`) cuts a request into the bytes it
/// hashes. Pure: every result is a view into the bytes given.
enum ContentKey {
    /// `balance hdr(NAME) use_domain_only`: the label before the last dot
    /// (`1wt` in `haproxy.1wt.eu`), from the start when there is one dot;
    /// the whole value when there is none.
    static func mainDomain(_ value: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var end = value.count
        while end > 0 && value[end - 1] != UInt8(ascii: ".") { end -= 1 }
        guard end > 0 else { return value }
        end -= 1
        var start = end
        while start > 0 && value[start - 1] != UInt8(ascii: ".") { start -= 1 }
        return UnsafeRawBufferPointer(rebasing: value[start..<end])
    }

    /// `balance uri`: the URI up to its `?` (past it with `whole`), at most
    /// `length` bytes (0: no limit), and at most `depth` directories: it
    /// stops before the slash that would open directory `depth + 1`
    /// (0: no limit). `/a/b/c?x` with depth 2 gives `/a/b`.
    static func uri(_ uri: UnsafeRawBufferPointer, whole: Bool, length: Int, depth: Int) -> UnsafeRawBufferPointer {
        let limit = length > 0 ? min(uri.count, length) : uri.count
        var slashes = 0
        var end = 0
        while end < limit {
            let byte = uri[end]
            if byte == UInt8(ascii: "/") {
                slashes += 1
                if slashes == depth + 1 && depth > 0 { break }
            } else if byte == UInt8(ascii: "?") && !whole {
                break
            }
            end += 1
        }
        return UnsafeRawBufferPointer(rebasing: uri[0..<end])
    }

    /// `balance url_param`: the value of the first `name=` parameter of
    /// `query` (the part after `?`), up to the next `&`; it may be empty.
    /// Nil when no parameter has that name (names compare case-sensitively).
    /// `balance url_param NAME check_post`: as `get_server_ph_post`, the
    /// value of the first `NAME=` of a form body, up to `&` or a blank; nil
    /// when it holds a byte that is not a token character (the body is
    /// not a form).
    static func postParameter(_ name: UnsafeRawBufferPointer, in body: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var start = 0
        while body.count - start > name.count {
            if body[start + name.count] == UInt8(ascii: "=") && memoryEqual(body, start, name) {
                let valueStart = start + name.count + 1
                var end = valueStart
                while end < body.count && body[end] != UInt8(ascii: "&") {
                    let byte = body[end]
                    if byte == 32 || byte == 9 || byte == 13 || byte == 10 { break }
                    guard isTokenByte(byte) else { return nil }
                    end += 1
                }
                return UnsafeRawBufferPointer(rebasing: body[valueStart..<end])
            }
            var next = start
            while next < body.count && body[next] != UInt8(ascii: "&") { next += 1 }
            guard next < body.count else { return nil }
            start = next + 1
        }
        return nil
    }

    /// RFC 9110's `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    static func urlParameter(_ name: UnsafeRawBufferPointer, in query: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var start = 0
        while start < query.count {
            var end = start
            while end < query.count && query[end] != UInt8(ascii: "&") { end += 1 }
            if end - start > name.count && query[start + name.count] == UInt8(ascii: "=")
                && memoryEqual(query, start, name) {
                return UnsafeRawBufferPointer(rebasing: query[(start + name.count + 1)..<end])
            }
            start = end + 1
        }
        return nil
    }

    /// A sample's value as HAProxy casts it to binary before hashing:
    /// strings as they are, integers and booleans as 8 bytes big-endian,
    /// addresses as their 4 or 16 bytes. Nil when the sample does not exist.
    static func withBinary<R>(_ value: SampleValue, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        switch value {
        case .none:
            return nil
        case .bytes(let bytes):
            return body(bytes)
        case .integer(let integer):
            return withUnsafeBytes(of: integer.bigEndian) { body($0) }
        case .boolean(let flag):
            return withUnsafeBytes(of: Int64(flag ? 1 : 0).bigEndian) { body($0) }
        case .address(let ip):
            if ip.isV6 { return withUnsafeBytes(of: (ip.high.bigEndian, ip.low.bigEndian)) { body($0) } }
            return withUnsafeBytes(of: UInt32(truncatingIfNeeded: ip.low).bigEndian) { body($0) }
        }
    }

    private static func memoryEqual(_ bytes: UnsafeRawBufferPointer, _ at: Int, _ other: UnsafeRawBufferPointer) -> Bool {
        for i in 0..<other.count where bytes[at + i] != other[i] { return false }
        return true
    }
}

extension Worker {
    /// The key the session's backend picks a server by: the client address
    /// for `balance source`, the request's content key for `balance uri`,
    /// `url_param`, `hdr` and `hash`, nil when the request has none (the
    /// balancer then goes round robin) or the algorithm hashes nothing.
    ///
    /// A content key is taken at the exchange's first pick, when the rules
    /// engine still holds the request (after its `http-request` rules, as in
    /// HAProxy), and kept in the exchange for a pick from the queue or a
    /// redispatch.
    @inline(__always)
    mutating func balanceKey(_ slot: UInt32, backend: Int) -> UInt64? {
        let s = sessions.pointer(slot)
        switch backends[backend].hashing.key {
        case .none:
            return nil
        case .source:
            return s.pointee.peer.withIPBytes { Balancer.sourceHash($0) }
        case .uri, .urlParameter, .header, .sample:
            if !s.pointee.exchange.balanceKeyTaken {
                s.pointee.exchange.balanceKey = contentKey(slot, backend: backend)
                s.pointee.exchange.balanceKeyTaken = true
            }
            return s.pointee.exchange.balanceKey
        }
    }

    private mutating func contentKey(_ slot: UInt32, backend: Int) -> UInt64? {
        let s = sessions.pointer(slot)
        let hashing = backends[backend].hashing
        guard s.pointee.isHTTP else {
            // `mode tcp`: only an expression over what layer 4 and the
            // buffered contents (`req.ssl_sni`) know; HAProxy falls back to
            // round robin for the HTTP ones.
            guard case .sample = hashing.key, let sample = rules.compiled.balanceSamples[backend] else { return nil }
            beginContent(slot)
            return ContentKey.withBinary(rules.sampleValue(sample)) { hashing.hash($0) }
        }
        // The request's rules ran just before its first pick: what they left
        // is the request as it will be sent.
        guard rules.kind == .request, rules.input.slot == slot else { return nil }
        let mark = rules.scratch.mark
        defer { rules.scratch.rewind(to: mark) }
        switch hashing.key {
        case .none, .source:
            return nil
        case .uri(let whole, let length, let depth):
            guard let target = rules.currentTarget() else { return nil }
            return hashing.hash(ContentKey.uri(target, whole: whole, length: length, depth: depth))
        case .urlParameter(let name, let checkPost):
            if rules.hasQuery {
                let query = rules.query
                let key = name.withUnsafeBytes { name in ContentKey.urlParameter(name, in: query).map { hashing.hash($0) } }
                if key != nil || !checkPost { return key }
            }
            guard checkPost, s.pointee.exchange.method == .post, let body = bufferedRequestBody(slot) else { return nil }
            return name.withUnsafeBytes { name in ContentKey.postParameter(name, in: body).map { hashing.hash($0) } }
        case .header(let name, let domainOnly):
            // The first value of the first such field, as HAProxy's
            // `http_find_header`; an empty one counts as absent.
            var key: UInt64?
            name.withUnsafeBytes { name in
                rules.forEachHeaderValue(name, split: true) { value in
                    if !value.isEmpty { key = hashing.hash(domainOnly ? ContentKey.mainDomain(value) : value) }
                    return true
                }
            }
            return key
        case .sample:
            guard let sample = rules.compiled.balanceSamples[backend] else { return nil }
            return ContentKey.withBinary(rules.sampleValue(sample)) { hashing.hash($0) }
        }
    }
}

extension Worker {
    /// `check_post`: the bytes of the request's body already read, after
    /// its head and within its Content-Length, at its first pick; nil when
    /// none, or for a chunked body.
    fileprivate func bufferedRequestBody(_ slot: UInt32) -> UnsafeRawBufferPointer? {
        let d = sessions.pointer(slot).pointee.toServer
        let name: StaticString = "content-length"
        guard d.buffer >= 0, d.tail > d.head,
              let field = rules.firstValue(named: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        else { return nil }
        var length = 0
        for byte in field {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"), length < Int(Int32.max) else { return nil }
            length = length * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return UnsafeRawBufferPointer(start: buffers.pointer(d.buffer) + d.head, count: min(d.tail - d.head, length))
    }
}
