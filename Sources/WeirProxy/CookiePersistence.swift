import WeirBalance
import WeirConfig
import WeirHTTP
import WeirShared
import WeirSystem

// Cookie persistence in HTTP mode, as HAProxy 2.6 does it
// (`http_manage_client_side_cookies`, `http_manage_server_side_cookies` and
// the Set-Cookie insertion of `http_process_res_common`):
//
// * request: the backend's cookie in the `Cookie` fields names a server by
//   its `cookie VALUE`; a usable one (or any, with `option persist` or a
//   `force-persist` match) takes the request without the balancer;
//   `ignore-persist` skips the lookup. In `prefix` mode `VALUE~` is cut off
//   before the server sees the cookie; in `insert indirect` mode the cookie is
//   removed.
// * response: `insert` adds `Set-Cookie: NAME=VALUE; path=/…` when the client
//   did not present the right cookie (and removes the server's own cookie of
//   that name unless `preserve`); `rewrite` replaces the value of the server's
//   cookie; `prefix` prefixes it with `VALUE~`.
// * `maxidle`/`maxlife`: the inserted value carries `|LAST[|FIRST]`, dates in
//   4-second units as 5 base64 characters; a cookie seen too late is ignored
//   (`E`, `O`) and the client gets a new one.
// * the log's termination state shows what happened in its 3rd and 4th
//   characters (HAProxy's `sess_cookie` and `sess_set_cookie`).
//
// Nothing here allocates per request: fields are views into the heads, the
// rewritten fields go straight into the outgoing head.

/// A backend's `cookie` line, ready for the request path.
final class CookieSettings {
    let name: [UInt8]
    let mode: CookieMode
    let indirect: Bool
    let noCache: Bool
    let postOnly: Bool
    let preserve: Bool
    /// Seconds; 0: no limit.
    let maxIdle: Int64
    let maxLife: Int64
    /// Each server's `cookie VALUE`, by server index; empty: none.
    let serverValues: [[UInt8]]
    /// What follows `; path=/` in an inserted cookie: domains, HttpOnly,
    /// Secure, `attr` values.
    let attributes: [UInt8]
    /// `option persist`.
    let persist: Bool
    /// HAProxy's `PR_CK_ANY`: the log shows the cookie flags (else `--`).
    let logsState: Bool
    /// The `Cookie` fields sent to the server may change.
    let rewritesRequest: Bool

    init(_ cookie: CookiePersistence, backend: Backend) {
        name = Array(cookie.name.utf8)
        mode = cookie.mode
        indirect = cookie.indirect
        noCache = cookie.noCache
        postOnly = cookie.postOnly
        preserve = cookie.preserve
        maxIdle = Int64((cookie.maxIdle ?? 0) / 1000)
        maxLife = Int64((cookie.maxLife ?? 0) / 1000)
        serverValues = backend.servers.map { Array(($0.cookie ?? "").utf8) }
        var attributes: [UInt8] = []
        for domain in cookie.domains { attributes += Array("; domain=\(domain)".utf8) }
        if cookie.httpOnly { attributes += Array("; HttpOnly".utf8) }
        if cookie.secure { attributes += Array("; Secure".utf8) }
        for attribute in cookie.attributes { attributes += Array("; \(attribute)".utf8) }
        self.attributes = attributes
        persist = backend.persist
        logsState = cookie.mode != .passive || cookie.indirect
        rewritesRequest = cookie.mode == .prefix || (cookie.mode == .insert && cookie.indirect)
    }
}

/// HAProxy's `TX_CK_*` (request cookie) and `TX_SCK_*` (response cookie)
/// states, as the letters the log shows.
enum CookieState {
    // Request: No cookie, Invalid, for a Down server, Valid, Expired, Old, Unused.
    static let none = UInt8(ascii: "N")
    static let invalid = UInt8(ascii: "I")
    static let down = UInt8(ascii: "D")
    static let valid = UInt8(ascii: "V")
    static let expired = UInt8(ascii: "E")
    static let old = UInt8(ascii: "O")
    static let unused = UInt8(ascii: "U")
    // Response: No Set-Cookie, found and left (Passive), Deleted, Inserted,
    // Rewritten, Updated (same server, new date).
    static let passive = UInt8(ascii: "P")
    static let deleted = UInt8(ascii: "D")
    static let inserted = UInt8(ascii: "I")
    static let rewritten = UInt8(ascii: "R")
    static let updated = UInt8(ascii: "U")
}

/// What cookie persistence decided for one exchange.
struct CookieExchange {
    var requestState = CookieState.none
    var responseState = CookieState.none
    /// The server the request's cookie designated (HAProxy's `SF_ASSIGNED`
    /// from a cookie), -1: none.
    var server: Int32 = -1
    /// The request goes to the cookie's server (`SF_DIRECT`); cleared by a redispatch.
    var direct = false
    /// `force-persist` (`SF_FORCE_PRST`) or `ignore-persist` (`SF_IGNORE_PRST`) matched.
    var force = false
    var ignore = false
    /// Dates the request's cookie carried (seconds since the epoch, 0: none).
    var firstDate: Int64 = 0
    var lastDate: Int64 = 0
    /// The response gets our Set-Cookie, and `Cache-Control: private` with it.
    var insert = false
    var markPrivate = false
}

/// One cookie of a `Cookie` or `Set-Cookie` value, as offsets into it
/// (HAProxy's pointers): `prev` is where the cookie starts (the value's
/// start or the delimiter before it), `next` the delimiter after it or the end.
struct CookieItem {
    var prev: Int
    var nameStart: Int
    var nameEnd: Int
    /// The `=`, or the delimiter/end when there is none.
    var equal: Int
    var valueStart: Int
    var valueEnd: Int
    var next: Int

    var hasValue: Bool { equal != next }
}

enum CookieParsing {
    static let semicolon = UInt8(ascii: ";")
    static let comma = UInt8(ascii: ",")
    static let equals = UInt8(ascii: "=")
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let prefixDelimiter = UInt8(ascii: "~")
    static let dateDelimiter = UInt8(ascii: "|")

    @inline(__always)
    static func isSpace(_ b: UInt8) -> Bool { b == 32 || b == 9 }

    /// The end of a cookie value starting at `start`: the first `,` or `;`
    /// outside quotes (HAProxy's `http_find_cookie_value_end`).
    static func valueEnd(_ v: UnsafeRawBufferPointer, from start: Int) -> Int {
        var quoted = false
        var escaped = false
        var i = start
        while i < v.count {
            let b = v[i]
            if escaped {
                escaped = false
            } else if quoted {
                if b == backslash { escaped = true } else if b == quote { quoted = false }
            } else if b == quote {
                quoted = true
            } else if b == comma || b == semicolon {
                return i
            }
            i += 1
        }
        return i
    }

    /// The cookie starting at `prev`: the value's start for the first
    /// one, else the delimiter before it. In a `Cookie` field cookies end at
    /// `;` or `,`; a `Set-Cookie` field holds one cookie, its attributes after it.
    static func item(_ v: UnsafeRawBufferPointer, at prev: Int, first: Bool, setCookie: Bool) -> CookieItem {
        var nameStart = first ? prev : prev + 1
        while nameStart < v.count && isSpace(v[nameStart]) { nameStart += 1 }
        var equal = nameStart
        var nameEnd = nameStart
        while equal < v.count {
            let b = v[equal]
            if b == equals || b == semicolon || (!setCookie && b == comma) { break }
            equal += 1
            if !isSpace(b) { nameEnd = equal }
        }
        var item = CookieItem(prev: prev, nameStart: nameStart, nameEnd: nameEnd, equal: equal, valueStart: equal,
                              valueEnd: equal, next: equal)
        if equal < v.count && v[equal] == equals {
            var valueStart = equal + 1
            while valueStart < v.count && isSpace(v[valueStart]) { valueStart += 1 }
            let next = valueEnd(v, from: valueStart)
            var end = next
            while end > valueStart && isSpace(v[end - 1]) { end -= 1 }
            item.valueStart = valueStart
            item.valueEnd = end
            item.next = next
        }
        if setCookie { item.next = v.count }
        return item
    }

    /// Whether `v[range]` spells `name` exactly (HAProxy compares cookie names case-sensitively).
    @inline(__always)
    static func equal(_ v: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ name: [UInt8]) -> Bool {
        guard end - start == name.count else { return false }
        return name.withUnsafeBufferPointer { n in
            for i in 0..<n.count where v[start + i] != n[i] { return false }
            return true
        }
    }

    // MARK: Dates

    private static let base64: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    /// The low 30 bits of `value` as 5 base64 characters, most significant
    /// first, unpadded (HAProxy's `s30tob64`).
    static func encode30(_ value: Int64, into out: UnsafeMutableRawPointer) {
        let table = base64.utf8Start
        var v = UInt32(truncatingIfNeeded: value)
        for i in 0..<5 {
            out.storeBytes(of: table[Int((v >> 24) & 0x3f)], toByteOffset: i, as: UInt8.self)
            v <<= 6
        }
    }

    /// The 30-bit value of 5 base64 characters, or -1 (HAProxy's `b64tos30`).
    static func decode30(_ v: UnsafeRawBufferPointer, at start: Int) -> Int64 {
        guard start + 5 <= v.count else { return -1 }
        var out: Int64 = 0
        for i in start..<start + 5 {
            let b = v[i]
            let digit: Int64
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): digit = Int64(b - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): digit = Int64(b - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int64(b - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): digit = 62
            case UInt8(ascii: "/"): digit = 63
            default: return -1
            }
            out = (out << 6) + digit
        }
        return out
    }
}

// MARK: - Request side

/// What the request's cookie says, found by `CookieSettings.inspectRequest`.
struct RequestCookieVerdict {
    var state = CookieState.none
    var server = -1
    var firstDate: Int64 = 0
    var lastDate: Int64 = 0
}

extension CookieSettings {
    /// Looks for the backend's cookie in one `Cookie` field value and
    /// updates `verdict` as HAProxy does: the first server whose value
    /// matches takes it when it is usable (`usable(server)`) or persistence
    /// is forced; an empty, unknown, expired or ignored cookie takes no server.
    func inspectRequest(_ v: UnsafeRawBufferPointer, verdict: inout RequestCookieVerdict, ignore: Bool, force: Bool,
                        now: Int64, usable: (Int) -> Bool) {
        var prev = 0
        var first = true
        while prev < v.count {
            let item = CookieParsing.item(v, at: prev, first: first, setCookie: false)
            first = false
            prev = item.next
            guard item.nameStart < v.count, v[item.nameStart] != UInt8(ascii: "$"), item.hasValue else { continue }
            guard CookieParsing.equal(v, item.nameStart, item.nameEnd, name) else { continue }
            var delimiter = item.valueEnd
            if mode == .prefix {
                delimiter = item.valueStart
                while delimiter < item.valueEnd && v[delimiter] != CookieParsing.prefixDelimiter { delimiter += 1 }
            } else if let bar = firstIndex(of: CookieParsing.dateDelimiter, in: v, item.valueStart, item.valueEnd) {
                delimiter = bar
                let last = bar + 1
                if item.valueEnd - last >= 5 {
                    let value = CookieParsing.decode30(v, at: last)
                    if value > 0 { verdict.lastDate = value << 2 }
                }
                if let bar2 = firstIndex(of: CookieParsing.dateDelimiter, in: v, last, item.valueEnd),
                   item.valueEnd - bar2 > 5 {
                    let value = CookieParsing.decode30(v, at: bar2 + 1)
                    if value > 0 { verdict.firstDate = value << 2 }
                }
            }
            if verdict.firstDate != 0 && maxLife > 0
                && (now - verdict.firstDate > maxLife || verdict.firstDate - now > 86400) {
                verdict.state = CookieState.old
                delimiter = item.valueStart
                verdict.firstDate = 0
                verdict.lastDate = 0
            } else if verdict.lastDate != 0 && maxIdle > 0
                && (now - verdict.lastDate > maxIdle || verdict.lastDate - now > 86400) {
                verdict.state = CookieState.expired
                delimiter = item.valueStart
                verdict.firstDate = 0
                verdict.lastDate = 0
            }
            var found = false
            if delimiter != item.valueStart && !ignore && verdict.server < 0 {
                for server in serverValues.indices where !serverValues[server].isEmpty
                    && CookieParsing.equal(v, item.valueStart, delimiter, serverValues[server]) {
                    if usable(server) || persist || force {
                        verdict.state = usable(server) ? CookieState.valid : CookieState.down
                        verdict.server = server
                        found = true
                        break
                    }
                    // Its server is down: another one may share the value.
                    verdict.state = CookieState.down
                }
            }
            if !found && verdict.state == CookieState.none {
                verdict.state = ignore || verdict.server >= 0 ? CookieState.unused : CookieState.invalid
            }
        }
    }

    /// Writes a `Cookie` field for the server: in `prefix` mode the
    /// backend's cookie loses its `VALUE~`; in `insert indirect` mode it is
    /// removed (with the `$` attributes after it). A field left empty is not written.
    func writeRequestField(_ w: inout HeadWriter, name fieldName: UnsafeRawBufferPointer, value v: UnsafeRawBufferPointer) {
        var length = 0
        forEachKeptPiece(v) { length += $0.count }
        guard length > 0 else { return }
        w.append(fieldName)
        w.append(": ")
        forEachKeptPiece(v) { w.append($0) }
        w.append("\r\n")
    }

    /// The bytes of the rewritten `Cookie` value, in pieces.
    private func forEachKeptPiece(_ v: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        var prev = 0
        var first = true
        var wroteAny = false
        var dropping = false
        while prev < v.count {
            let item = CookieParsing.item(v, at: prev, first: first, setCookie: false)
            let itemStart = prev
            first = false
            prev = item.next
            // Where this cookie's own bytes begin: after the delimiter and
            // blanks when it is the first one written.
            let lead = wroteAny ? itemStart : item.nameStart
            let isAttribute = item.nameStart < v.count && v[item.nameStart] == UInt8(ascii: "$")
            if isAttribute {
                if !dropping {
                    body(v.slice(lead, item.next))
                    wroteAny = true
                }
                continue
            }
            dropping = false
            guard item.hasValue, CookieParsing.equal(v, item.nameStart, item.nameEnd, name) else {
                if item.next > lead {
                    body(v.slice(lead, item.next))
                    wroteAny = true
                }
                continue
            }
            if mode == .prefix,
               let tilde = firstIndex(of: CookieParsing.prefixDelimiter, in: v, item.valueStart, item.valueEnd) {
                body(v.slice(lead, item.nameEnd))
                body(v.slice(item.equal, item.equal + 1))
                body(v.slice(tilde + 1, item.next))
                wroteAny = true
            } else if mode == .insert && indirect {
                dropping = true
            } else {
                body(v.slice(lead, item.next))
                wroteAny = true
            }
        }
    }
}

@inline(__always)
private func firstIndex(of byte: UInt8, in v: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int? {
    var i = start
    while i < end {
        if v[i] == byte { return i }
        i += 1
    }
    return nil
}

// MARK: - Response side

/// What happens to one `Set-Cookie` field of the server's response.
enum SetCookieAction: Equatable {
    /// Not ours, or left as it is.
    case keep
    /// Ours, left as it is (`preserve`, or no server to name): `P` in the log.
    case passive
    case delete
    /// The value (between the offsets) becomes the server's cookie value.
    case rewrite(valueStart: Int, valueEnd: Int)
    /// The server's cookie value and `~` go before the value.
    case prefix(valueStart: Int)
}

extension CookieSettings {
    /// HAProxy's `http_manage_server_side_cookies` for one `Set-Cookie` value.
    func setCookieAction(_ v: UnsafeRawBufferPointer, server: Int, direct: Bool, ignore: Bool) -> SetCookieAction {
        guard !ignore else { return .keep }
        let item = CookieParsing.item(v, at: 0, first: true, setCookie: true)
        guard item.equal < v.count, v[item.equal] == CookieParsing.equals,
              CookieParsing.equal(v, item.nameStart, item.nameEnd, name) else { return .keep }
        if preserve { return .passive }
        if (server >= 0 && mode == .insert) || (direct && indirect) { return .delete }
        if server >= 0 && !serverValues[server].isEmpty {
            if mode == .rewrite { return .rewrite(valueStart: item.valueStart, valueEnd: item.valueEnd) }
            if mode == .prefix { return .prefix(valueStart: item.valueStart) }
        }
        return .passive
    }

    /// Writes one `Set-Cookie` field as `action` says.
    func writeSetCookieField(_ w: inout HeadWriter, name fieldName: UnsafeRawBufferPointer,
                             value v: UnsafeRawBufferPointer, action: SetCookieAction, server: Int) {
        switch action {
        case .keep, .passive:
            w.appendHeader(name: fieldName, value: v)
        case .delete:
            return
        case .rewrite(let start, let end):
            w.append(fieldName)
            w.append(": ")
            w.append(v.slice(0, start))
            serverValues[server].withUnsafeBytes { w.append($0) }
            w.append(v.slice(end, v.count))
            w.append("\r\n")
        case .prefix(let start):
            w.append(fieldName)
            w.append(": ")
            w.append(v.slice(0, start))
            serverValues[server].withUnsafeBytes { w.append($0) }
            w.append(byte: CookieParsing.prefixDelimiter)
            w.append(v.slice(start, v.count))
            w.append("\r\n")
        }
    }

    /// Writes the inserted `Set-Cookie` field (and `Cache-Control: private`
    /// when `nocache` applies).
    func writeInsertedCookie(_ w: inout HeadWriter, server: Int, exchange e: CookieExchange, now: Int64) {
        w.append("set-cookie: ")
        name.withUnsafeBytes { w.append($0) }
        w.append(byte: CookieParsing.equals)
        if serverValues[server].isEmpty {
            w.append("; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/")
        } else {
            serverValues[server].withUnsafeBytes { w.append($0) }
            if maxIdle > 0 || maxLife > 0 {
                var dates = (UInt64(0), UInt64(0))
                withUnsafeMutableBytes(of: &dates) { raw in
                    let p = raw.baseAddress!
                    p.storeBytes(of: CookieParsing.dateDelimiter, as: UInt8.self)
                    CookieParsing.encode30((now + 3) >> 2, into: p + 1)
                    var n = 6
                    if maxLife > 0 {
                        p.storeBytes(of: CookieParsing.dateDelimiter, toByteOffset: 6, as: UInt8.self)
                        CookieParsing.encode30(e.firstDate != 0 ? e.firstDate >> 2 : (now + 3) >> 2, into: p + 7)
                        n = 12
                    }
                    w.append(UnsafeRawBufferPointer(start: p, count: n))
                }
            }
            w.append("; path=/")
        }
        attributes.withUnsafeBytes { w.append($0) }
        w.append("\r\n")
        if e.markPrivate { w.append("cache-control: private\r\n") }
    }

    /// Whether a response may be stored by a cache (HAProxy's `TX_CACHEABLE`
    /// after `http_check_response_for_cacheability`), for `nocache`.
    static func isCacheable(method: HTTPMethod, status: Int, fields: UnsafeMutablePointer<FieldEntry>, count: Int) -> Bool {
        guard method == .get || method == .head || method == .options || method == .trace else { return false }
        switch status {
        case 200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501: break
        default: return false
        }
        var cacheable = true
        for i in 0..<count where !fields[i].removed {
            let name = fields[i].name
            let value = fields[i].value
            if HTTPField.equalsIgnoringCase(name, "pragma") {
                if HTTPField.equalsIgnoringCase(value, "no-cache") { return false }
                continue
            }
            guard HTTPField.equalsIgnoringCase(name, "cache-control") else { continue }
            var start = 0
            while start <= value.count {
                var end = start
                while end < value.count && value[end] != CookieParsing.comma { end += 1 }
                var a = start
                var b = end
                while a < b && CookieParsing.isSpace(value[a]) { a += 1 }
                while b > a && CookieParsing.isSpace(value[b - 1]) { b -= 1 }
                let directive = value.slice(a, b)
                if HTTPField.equalsIgnoringCase(directive, "public") {
                    cacheable = true
                } else if HTTPField.equalsIgnoringCase(directive, "private")
                            || HTTPField.equalsIgnoringCase(directive, "no-cache")
                            || HTTPField.equalsIgnoringCase(directive, "no-store")
                            || HTTPField.equalsIgnoringCase(directive, "max-age=0")
                            || HTTPField.equalsIgnoringCase(directive, "s-maxage=0") {
                    cacheable = false
                }
                start = end + 1
            }
        }
        return cacheable
    }
}

// MARK: - Hooks in the HTTP engine

/// `force-persist`/`ignore-persist`, compiled with the backend's other conditions.
struct CompiledPersistRule {
    let force: Bool
    let condition: CompiledCondition
}

extension RuleCompiler {
    /// Each backend's `force-persist`/`ignore-persist` lines, in order.
    mutating func persistRules(_ backends: [Backend]) throws(StartupError) -> [[CompiledPersistRule]] {
        var all: [[CompiledPersistRule]] = []
        for backend in backends {
            var rules: [CompiledPersistRule] = []
            for rule in backend.persistRules {
                rules.append(CompiledPersistRule(force: rule.kind == .force, condition: try condition(rule.condition)))
            }
            all.append(rules)
        }
        return all
    }
}

extension Worker {
    /// After the request rules put the exchange in `backend`: runs the
    /// persistence rules and reads the request's cookie. The rules engine
    /// still holds the request as edited.
    /// A backend without a cookie costs no call.
    @inline(__always)
    mutating func analyseRequestCookies(_ slot: UInt32, backend: Int) {
        guard backends[backend].hasCookie else { return }
        readRequestCookies(slot, backend: backend)
    }

    private mutating func readRequestCookies(_ slot: UInt32, backend: Int) {
        guard let settings = backends[backend].cookie else { return }
        let s = sessions.pointer(slot)
        var e = CookieExchange()
        let persistRules = rules.compiled.persistRules[backend]
        for rule in persistRules where rules.evaluate(rule.condition) {
            if rule.force { e.force = true } else { e.ignore = true }
            break
        }
        // Dates matter only with maxidle/maxlife.
        let now = settings.maxIdle > 0 || settings.maxLife > 0 ? Clock.wallMilliseconds() / 1000 : 0
        var verdict = RequestCookieVerdict()
        for i in 0..<rules.fieldCount where !rules.fields[i].removed
            && HTTPField.equalsIgnoringCase(rules.fields[i].name, "cookie") {
            settings.inspectRequest(rules.fields[i].value, verdict: &verdict, ignore: e.ignore, force: e.force, now: now) {
                backends[backend].balancer.servers[$0].isUsable
            }
        }
        e.requestState = verdict.state
        e.firstDate = verdict.firstDate
        e.lastDate = verdict.lastDate
        if verdict.server >= 0 {
            e.server = Int32(verdict.server)
            e.direct = true
        }
        s.pointee.exchange.cookie = e
    }

    /// Called by `assignServer` before the balancer: the server the cookie
    /// names (`boundPick`), nil to balance. A
    /// redispatch (`excluding`) leaves the cookie's server: the client will
    /// get a new cookie.
    @inline(__always)
    mutating func persistentPick(_ slot: UInt32, backend: Int, excluding: Int?) -> PickResult? {
        let s = sessions.pointer(slot)
        guard s.pointee.exchange.cookie.direct, backends[backend].hasCookie else { return nil }
        if excluding != nil {
            s.pointee.exchange.cookie.direct = false
            if s.pointee.exchange.cookie.requestState == CookieState.valid {
                s.pointee.exchange.cookie.requestState = CookieState.down
            }
            return nil
        }
        let server = Int(s.pointee.exchange.cookie.server)
        return boundPick(slot, backend: backend, server: server)
    }

    /// `force-persist` matched: a failed connect is never redispatched.
    func forbidsRedispatch(_ slot: UInt32) -> Bool {
        let s = sessions.pointer(slot)
        return s.pointee.exchange.cookie.force && s.pointee.exchange.cookie.direct
    }

    /// Whether the request head writer must rewrite this `Cookie` field.
    func rewritesCookieField(_ name: UnsafeRawBufferPointer, backend: Int) -> CookieSettings? {
        guard backends[backend].hasCookie, let settings = backends[backend].cookie, settings.rewritesRequest,
              HTTPField.equalsIgnoringCase(name, "cookie") else { return nil }
        return settings
    }

    /// After the response rules: what happens to the server's `Set-Cookie`
    /// fields and whether ours is inserted (the rules engine holds the
    /// response as edited).
    mutating func analyseResponseCookies(_ slot: UInt32) {
        let s = sessions.pointer(slot)
        let backend = Int(s.pointee.backend)
        guard backend >= 0, backends[backend].hasCookie, let settings = backends[backend].cookie else { return }
        let status = rules.status
        guard status >= 200 || status == 101 else { return }
        let server = Int(s.pointee.server)
        var e = s.pointee.exchange.cookie
        var found = false
        for i in 0..<rules.fieldCount where !rules.fields[i].removed
            && HTTPField.equalsIgnoringCase(rules.fields[i].name, "set-cookie") {
            switch settings.setCookieAction(rules.fields[i].value, server: server, direct: e.direct, ignore: e.ignore) {
            case .keep: continue
            case .passive: e.responseState = CookieState.passive
            case .delete: e.responseState = CookieState.deleted
            case .rewrite, .prefix: e.responseState = CookieState.rewritten
            }
            found = true
        }
        let dated = settings.maxIdle > 0 || settings.maxLife > 0 || e.lastDate != 0 || e.firstDate != 0
        let now = dated ? Clock.wallMilliseconds() / 1000 : 0
        let refresh = !e.direct
            || ((settings.maxIdle > 0 || e.lastDate != 0) && (e.lastDate == 0 || e.lastDate - now < 0))
            || (settings.maxLife > 0 && e.firstDate == 0)
            || (settings.maxLife == 0 && e.firstDate != 0)
        if server >= 0 && settings.mode == .insert && !(found && settings.preserve) && refresh
            && (!settings.postOnly || s.pointee.exchange.method == .post) && !e.ignore {
            e.insert = true
            e.responseState = !settings.serverValues[server].isEmpty && e.direct ? CookieState.updated : CookieState.inserted
            e.markPrivate = settings.noCache
                && CookieSettings.isCacheable(method: s.pointee.exchange.method, status: status, fields: rules.fields,
                                              count: rules.fieldCount)
        }
        s.pointee.exchange.cookie = e
    }

    /// Writes a server `Set-Cookie` field as persistence wants it; false
    /// when the field is not the backend's concern (the caller copies it).
    func writeSetCookieField(_ w: inout HeadWriter, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                             slot: UInt32) -> Bool {
        let s = sessions.pointer(slot)
        let backend = Int(s.pointee.backend)
        guard backend >= 0, let settings = backends[backend].cookie,
              HTTPField.equalsIgnoringCase(name, "set-cookie") else { return false }
        let server = Int(s.pointee.server)
        let e = s.pointee.exchange.cookie
        let action = settings.setCookieAction(value, server: server, direct: e.direct, ignore: e.ignore)
        settings.writeSetCookieField(&w, name: name, value: value, action: action, server: server)
        return true
    }

    /// Appends our `Set-Cookie` when `analyseResponseCookies` decided so.
    func writeInsertedCookie(_ w: inout HeadWriter, slot: UInt32) {
        let s = sessions.pointer(slot)
        let e = s.pointee.exchange.cookie
        let backend = Int(s.pointee.backend)
        guard e.insert, backend >= 0, let settings = backends[backend].cookie, s.pointee.server >= 0 else { return }
        let now = settings.maxIdle > 0 || settings.maxLife > 0 ? Clock.wallMilliseconds() / 1000 : 0
        settings.writeInsertedCookie(&w, server: Int(s.pointee.server), exchange: e, now: now)
    }

    /// The 3rd and 4th characters of the termination state: what the
    /// request's cookie and the response's Set-Cookie were (`--` when the
    /// backend has no cookie persistence).
    func cookieTerminationChars(_ slot: UInt32) -> (UInt8, UInt8) {
        let s = sessions.pointer(slot)
        let backend = Int(s.pointee.backend)
        guard backend >= 0, backends[backend].hasCookie, let settings = backends[backend].cookie, settings.logsState else {
            return (UInt8(ascii: "-"), UInt8(ascii: "-"))
        }
        return (s.pointee.exchange.cookie.requestState, s.pointee.exchange.cookie.responseState)
    }
}
