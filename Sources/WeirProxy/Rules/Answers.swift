import WeirConfig
import WeirHTTP

/// What follows an answer of the proxy on the client connection.
enum AnswerConnection {
    case close
    /// Kept open: nothing to say to an HTTP/1.1 client.
    case keepAlive
    /// Kept open for an HTTP/1.0 client, which must be told.
    case keepAliveHTTP10
}

extension CompiledReturn {
    /// A complete response sent as it is, or a page whose framing is not
    /// ours: the connection closes after it.
    var closesConnection: Bool {
        switch body {
        case .rawResponse, .errorPage: return true
        case .none, .bytes, .logFormat: return false
        }
    }
}

extension RuleEngine {
    /// The page `errorfile`, `errorloc` or `http-error` set for `status` in
    /// the backend, else in the frontend; nil: the built-in page.
    func errorPage(_ status: Int, frontend: Int, backend: Int) -> CompiledErrorPage? {
        if backend >= 0, let page = compiled.backends[backend].errorPages[status] { return page }
        return compiled.frontends[frontend].errorPages[status]
    }

    /// Writes a 301/302/303/307/308 for `redirect`; false when the location
    /// does not fit.
    mutating func writeRedirect(_ redirect: CompiledRedirect, into w: inout HeadWriter,
                                connection: AnswerConnection) -> Bool {
        output.reset()
        let start = output.mark
        switch redirect.kind {
        case .location:
            guard render(redirect.value, into: .output) != nil else { return false }
        case .prefix:
            let prefixStart = output.mark
            guard let prefix = render(redirect.value, into: .output) else { return false }
            // A prefix of "/" adds nothing, so that a rule can redirect to the same host.
            if prefix.count == 1 && prefix[0] == UInt8(ascii: "/") { output.rewind(to: prefixStart) }
            guard appendPathForRedirect(dropQuery: redirect.dropQuery) else { return false }
        case .scheme:
            guard render(redirect.value, into: .output) != nil, output.append("://") else { return false }
            if let host = firstValue(named: "host"), !output.append(host) { return false }
            guard appendPathForRedirect(dropQuery: redirect.dropQuery) else { return false }
        }
        if redirect.appendSlash && redirect.kind != .location {
            let location = output.bytes(since: start)
            if location.count > 0 && location[location.count - 1] != UInt8(ascii: "/") && !output.append(UInt8(ascii: "/")) {
                return false
            }
        }
        let location = output.bytes(since: start)
        writeStatusLine(redirect.code, into: &w)
        w.append("content-length: 0\r\n")
        w.appendHeader(name: "location", value: location)
        if redirect.code == 302 || redirect.code == 303 || redirect.code == 307 { w.append("cache-control: no-cache\r\n") }
        if let cookie = redirect.cookie { w.appendHeader(name: "set-cookie", value: cookie) }
        writeConnection(connection, into: &w)
        w.append("\r\n")
        return !w.overflowed
    }

    /// The request's path, with its query unless `dropQuery`; `/` when empty.
    private mutating func appendPathForRedirect(dropQuery: Bool) -> Bool {
        if path.count == 0 { return output.append(UInt8(ascii: "/")) }
        guard output.append(path) else { return false }
        if hasQuery && !dropQuery { return output.append(UInt8(ascii: "?")) && output.append(query) }
        return true
    }

    /// Writes an `http-request return` (or `http-error`) answer whose body
    /// is none, fixed bytes or a log-format string; a raw response is
    /// written as it is. False when it does not fit, or when the body is the
    /// proxy's error page (the caller writes that one).
    mutating func writeReturn(_ answer: CompiledReturn, into w: inout HeadWriter, connection: AnswerConnection,
                              omitBody: Bool) -> Bool {
        output.reset()
        let body: UnsafeRawBufferPointer
        switch answer.body {
        case .none: body = UnsafeRawBufferPointer(start: nil, count: 0)
        case .bytes(let bytes): body = bytes
        case .logFormat(let format):
            guard let rendered = render(format, into: .output) else { return false }
            body = rendered
        case .rawResponse(let raw):
            w.append(raw)
            return !w.overflowed
        case .errorPage:
            return false
        }
        writeStatusLine(answer.status, into: &w)
        if let type = answer.contentType { w.appendHeader(name: "content-type", value: type) }
        w.append("content-length: ")
        w.append(decimal: body.count)
        w.append("\r\n")
        for header in answer.headers {
            guard let value = render(header.value, into: .output) else { return false }
            w.appendHeader(name: header.name, value: value)
        }
        writeConnection(connection, into: &w)
        w.append("\r\n")
        if !omitBody { w.append(body) }
        return !w.overflowed
    }

    /// A 401 asking for Basic credentials in `realm`.
    func writeAuthChallenge(realm: UnsafeRawBufferPointer, into w: inout HeadWriter, connection: AnswerConnection,
                            omitBody: Bool) {
        let body: StaticString = "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"
        writeStatusLine(401, into: &w)
        w.append("content-length: ")
        w.append(decimal: body.utf8CodeUnitCount)
        w.append("\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nwww-authenticate: Basic realm=\"")
        w.append(realm)
        w.append("\"\r\n")
        writeConnection(connection, into: &w)
        w.append("\r\n")
        if !omitBody { w.append(body) }
    }

    /// A custom error page for `status`; false when it does not fit.
    mutating func writeErrorPage(_ page: CompiledErrorPage, status: Int, into w: inout HeadWriter) -> Bool {
        switch page {
        case .raw(let bytes):
            w.append(bytes)
        case .redirect(let code, let location):
            writeStatusLine(code, into: &w)
            w.append("content-length: 0\r\n")
            w.appendHeader(name: "location", value: location)
            w.append("cache-control: no-cache\r\nconnection: close\r\n\r\n")
        case .response(let answer):
            return writeReturn(answer, into: &w, connection: .close, omitBody: false)
        }
        return !w.overflowed
    }

    func writeStatusLine(_ status: Int, into w: inout HeadWriter) {
        let reason = HTTPStatus.reason(status)
        writeStatusLine(status, reason: UnsafeRawBufferPointer(start: reason.utf8Start, count: reason.utf8CodeUnitCount),
                        into: &w)
    }

    func writeStatusLine(_ status: Int, reason: UnsafeRawBufferPointer, into w: inout HeadWriter) {
        if status >= 100 && status <= 999 {
            // `HTTP/1.1 NNN ` as two little-endian words, one append.
            let code = UInt64(status)
            var line = (UInt64(0x312E_312F_5054_5448),
                        0x20 | (0x30 + code / 100) << 8 | (0x30 + code / 10 % 10) << 16 | (0x30 + code % 10) << 24 | 0x20 << 32)
            withUnsafeBytes(of: &line) { w.append(UnsafeRawBufferPointer(rebasing: $0[0..<13])) }
        } else {
            w.append("HTTP/1.1 ")
            w.append(decimal: status)
            w.append(byte: 32)
        }
        w.append(reason)
        w.append("\r\n")
    }

    func writeConnection(_ connection: AnswerConnection, into w: inout HeadWriter) {
        switch connection {
        case .close: w.append("connection: close\r\n")
        case .keepAlive: break
        case .keepAliveHTTP10: w.append("connection: keep-alive\r\n")
        }
    }
}
