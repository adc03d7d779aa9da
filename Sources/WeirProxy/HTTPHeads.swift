import Glibc
import WeirHTTP
import WeirSystem

extension Worker {
    /// The request head sent to the server: the request line in HTTP/1.1,
    /// the end-to-end fields in their order, then the fields the proxy adds;
    /// all as the rules left them (`rules` holds the request's view).
    /// Hop-by-hop fields (RFC 9110 §7.6.1) stay on the client side.
    mutating func writeRequestHead(_ w: inout HeadWriter, head: UnsafeRawBufferPointer, request: RequestHead, slot: UInt32, backend: Int) {
        let s = sessions.pointer(slot)
        let frontend = Int(s.pointee.frontend)
        // Lines still as received go out in runs, one copy each: the request
        // line too, when the rules left it and it came in HTTP/1.1.
        var lines = FieldLineRun(in: head)
        if let lineEnd = unchangedRequestLineEnd(head, request) {
            lines.gatherStartLine(count: lineEnd)
        } else {
            w.append(rules.method)
            w.append(byte: 32)
            if rules.targetEdited {
                w.append(rules.targetPrefix)
                w.append(rules.path)
                if rules.hasQuery {
                    w.append(byte: UInt8(ascii: "?"))
                    w.append(rules.query)
                }
            } else {
                w.append(rules.originalTarget)
            }
            w.append(" HTTP/1.1\r\n")
        }
        let upgrade = s.pointee.exchange.upgradeRequested
        let forwardFor = forwardedFor.entry(frontend: frontend, backend: backend)
        var forwardedPresent = false
        let cookies = backends[backend].hasCookie
        let mayBeNominated = !headers.nominatesOnlyHopByHopNames
        // A flag first: backends without the header never touch the compiled list.
        let serverNameHeader = backends[backend].sendsServerName ? rules.compiled.serverNameHeaders[backend] : nil
        // The client's copies of that header go before the loop, which then
        // costs nothing per field for it.
        if let serverNameHeader { rules.removeFields(named: serverNameHeader.lowercaseName, match: .exact) }
        for i in 0..<rules.fieldCount where !rules.fields[i].removed {
            let name = rules.fields[i].name
            let knownName = rules.fields[i].knownName
            if knownName.isHopByHop {
                guard upgrade && knownName == .upgrade else { continue }
            } else if mayBeNominated && headers.isNominatedByConnection(name, in: head) {
                continue
            }
            if forwardFor.ifNone && !forwardedPresent {
                forwardedPresent = HTTPField.equalsIgnoringCase(name, forwardFor.header)
            }
            if cookies, let cookie = rewritesCookieField(name, backend: backend) {
                lines.flush(to: &w)
                cookie.writeRequestField(&w, name: name, value: rules.fields[i].value)
                continue
            }
            lines.append(name: name, value: rules.fields[i].value, to: &w)
        }
        lines.flush(to: &w)
        // `unique-id-header`.
        appendUniqueIDHeader(&w, slot: slot)
        if forwardFor.isSet, !(forwardFor.ifNone && forwardedPresent),
           !(forwardFor.hasExceptions
             && (backends[backend].forwardFor ?? frontends[frontend].forwardFor)!.isExcepted(s.pointee.peer)) {
            w.append(forwardFor.header)
            w.append(": ")
            Self.appendHost(&w, s.pointee.peer)
            w.append("\r\n")
        }
        // `option originalto`: the address the client connected to, which
        // differs from the bind address behind a wildcard or a redirect.
        if let originalTo = backends[backend].originalTo ?? frontends[frontend].originalTo,
           let local = clientDestination(slot).map(PeerAddress.init), local.family != AF_UNIX,
           !originalTo.isExcepted(local) {
            originalTo.header.withUnsafeBytes { w.append($0) }
            w.append(": ")
            Self.appendHost(&w, local)
            w.append("\r\n")
        }
        if upgrade {
            w.append("connection: upgrade\r\n")
        } else if backends[backend].sendsConnectionClose {
            w.append("connection: close\r\n")
        }
        if let serverNameHeader {
            // The server is not picked yet: the longest name holds its room
            // until `writeServerName` puts the picked one there.
            w.append(serverNameHeader.name)
            w.append(": ")
            s.pointee.exchange.serverNameAt = Int32(w.count)
            w.append(serverNameHeader.longestServerName)
            w.append("\r\n")
        }
        w.append("\r\n")
    }

    /// `http-send-name-header`: the name of the server just picked ends the
    /// request head, replacing whichever a previous attempt wrote.
    mutating func writeServerName(_ slot: UInt32, backend: Int, server: Int) {
        let s = sessions.pointer(slot)
        let at = Int(s.pointee.exchange.serverNameAt)
        guard s.pointee.toServer.prefix >= 0 else { return }
        var w = HeadWriter(buffers.pointer(s.pointee.toServer.prefix) + at, capacity: bufferSize - at)
        backends[backend].servers[server].nameBytes.withUnsafeBytes { w.append($0) }
        w.append("\r\n\r\n")
        s.pointee.toServer.prefixTail = at + w.count
    }

    /// Where the request line ends (after its CRLF) when it goes as received:
    /// the rules changed neither method nor target, and it reads
    /// `METHOD SP target SP HTTP/1.1 CRLF`. Nil otherwise.
    @inline(__always)
    private func unchangedRequestLineEnd(_ head: UnsafeRawBufferPointer, _ request: RequestHead) -> Int? {
        guard !rules.targetEdited, let base = head.baseAddress, rules.method.baseAddress == base,
              rules.method.count == request.methodEnd, request.targetStart == request.methodEnd + 1 else { return nil }
        // ` HTTP/1.1` and CRLF: a little-endian word, then three bytes.
        let version = request.targetEnd
        guard version + 11 <= head.count,
              UInt64(littleEndian: base.loadUnaligned(fromByteOffset: version, as: UInt64.self)) == 0x2E31_2F50_5454_4820,
              UInt16(littleEndian: base.loadUnaligned(fromByteOffset: version + 8, as: UInt16.self)) == 0x0D31,
              base.load(fromByteOffset: version + 10, as: UInt8.self) == 0x0A else { return nil }
        return version + 11
    }

    /// The response head sent to the client: the status line in HTTP/1.1,
    /// the server's end-to-end fields as the rules left them, and a
    /// `connection` field saying what happens to the client connection next.
    mutating func writeResponseHead(_ w: inout HeadWriter, head: UnsafeRawBufferPointer, response: ResponseHead, slot: UInt32, tunnel: Bool) {
        let s = sessions.pointer(slot)
        rules.writeStatusLine(rules.status, reason: rules.reason, into: &w)
        let backend = Int(s.pointee.backend)
        let cookies = backend >= 0 && backends[backend].hasCookie
        let compressing = s.pointee.exchange.compressing
        // Lines still as received go out in runs, one copy each.
        var lines = FieldLineRun(in: head)
        let mayBeNominated = !headers.nominatesOnlyHopByHopNames
        for i in 0..<rules.fieldCount where !rules.fields[i].removed {
            let name = rules.fields[i].name
            let knownName = rules.fields[i].knownName
            if knownName.isHopByHop {
                guard tunnel && knownName == .upgrade else { continue }
            } else if mayBeNominated && headers.isNominatedByConnection(name, in: head) {
                continue
            }
            if compressing {
                // The body's length and framing change: the proxy says its own.
                if knownName == .contentLength || knownName == .transferEncoding { continue }
                let value = rules.fields[i].value
                if value.first == UInt8(ascii: "\""), HTTPField.equalsIgnoringCase(name, "etag") {
                    // The compressed bytes differ: a strong validator becomes a weak one.
                    lines.flush(to: &w)
                    w.append(name)
                    w.append(": W/")
                    w.append(value)
                    w.append("\r\n")
                    continue
                }
            }
            if cookies {
                lines.flush(to: &w)
                if writeSetCookieField(&w, name: name, value: rules.fields[i].value, slot: slot) { continue }
            }
            lines.append(name: name, value: rules.fields[i].value, to: &w)
        }
        lines.flush(to: &w)
        if cookies { writeInsertedCookie(&w, slot: slot) }
        if compressing { appendCompressionFields(&w, slot: slot) }
        endResponseHead(&w, slot: slot, tunnel: tunnel)
    }

    /// The `Connection` line the client needs (the upgrade, the close it
    /// will see, or keep-alive for HTTP/1.0), then the empty line.
    @inline(__always)
    private func endResponseHead(_ w: inout HeadWriter, slot: UInt32, tunnel: Bool) {
        let s = sessions.pointer(slot)
        if tunnel {
            w.append("connection: upgrade\r\n")
        } else if !s.pointee.exchange.clientKeepAlive {
            w.append("connection: close\r\n")
        } else if s.pointee.exchange.clientMinor == 0 {
            w.append("connection: keep-alive\r\n")
        }
        w.append("\r\n")
    }

    /// `writeResponseHead` for a response nothing reads (`ResponseReaders`),
    /// from the parser's table rather than the rules engine's view, with no
    /// cookie to handle. When every field line came as `name: value` CRLF
    /// (`regularLines`), the lines between the fields left out go as
    /// received, one copy each, with no test per line but its name's, or
    /// none when the parser knows the fields left out (`hopByHopFields`).
    mutating func writeParsedResponseHead(_ w: inout HeadWriter, head: UnsafeRawBufferPointer, response: ResponseHead,
                                          slot: UInt32, tunnel: Bool) {
        // An HTTP/1.1 status line goes as received, with the lines after it.
        let statusLineEnd = receivedStatusLineEnd(head, response)
        if statusLineEnd == nil {
            rules.writeStatusLine(response.status, reason: head.slice(response.reasonStart, response.reasonEnd), into: &w)
        }
        let fields = headers.fields
        if headers.regularLines, let base = head.baseAddress, let last = fields.last {
            var runStart = statusLineEnd == nil ? Int(fields[0].nameStart) : 0
            @inline(__always) func leaveOut(_ field: HeaderField) {
                w.append(UnsafeRawBufferPointer(start: base + runStart, count: Int(field.nameStart) &- runStart))
                runStart = Int(field.valueEnd) &+ 2
            }
            if !tunnel, var skipped = headers.hopByHopFields {
                // The parser knows them: no test per field.
                while skipped != 0 {
                    leaveOut(fields[skipped.trailingZeroBitCount])
                    skipped &= skipped &- 1
                }
            } else {
                for field in fields where !forwardsResponseField(field, head: head, tunnel: tunnel) { leaveOut(field) }
            }
            w.append(UnsafeRawBufferPointer(start: base + runStart, count: Int(last.valueEnd) &+ 2 &- runStart))
        } else {
            var lines = FieldLineRun(in: head)
            if let statusLineEnd { lines.gatherStartLine(count: statusLineEnd) }
            for field in fields where forwardsResponseField(field, head: head, tunnel: tunnel) {
                lines.append(name: field.name(in: head), value: field.value(in: head), to: &w)
            }
            lines.flush(to: &w)
        }
        endResponseHead(&w, slot: slot, tunnel: tunnel)
    }

    /// Where the status line ends (after its CRLF) when it reads
    /// `HTTP/1.1 NNN reason` CRLF, as the proxy would write it; else nil.
    @inline(__always)
    private func receivedStatusLineEnd(_ head: UnsafeRawBufferPointer, _ response: ResponseHead) -> Int? {
        let end = response.reasonEnd + 2
        guard response.reasonStart == 13, end <= head.count, let base = head.baseAddress,
              UInt64(littleEndian: base.loadUnaligned(as: UInt64.self)) == 0x312E_312F_5054_5448,
              base.load(fromByteOffset: 8, as: UInt8.self) == 0x20, base.load(fromByteOffset: 12, as: UInt8.self) == 0x20,
              UInt16(littleEndian: base.loadUnaligned(fromByteOffset: response.reasonEnd, as: UInt16.self)) == 0x0A0D
        else { return nil }
        return end
    }

    /// A response field goes to the client: end-to-end, or the `upgrade` of
    /// a tunnel.
    @inline(__always)
    private func forwardsResponseField(_ field: HeaderField, head: UnsafeRawBufferPointer, tunnel: Bool) -> Bool {
        if field.knownName.isHopByHop { return tunnel && field.knownName == .upgrade }
        return !headers.isNominatedByConnection(field.name(in: head), in: head)
    }

    /// An address as text, without allocating.
    private static func appendHost(_ w: inout HeadWriter, _ address: PeerAddress) {
        var text = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &text) { raw in
            let n = address.formatHost(into: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            w.append(UnsafeRawBufferPointer(start: raw.baseAddress, count: n))
        }
    }
}
