import WeirHTTP
import WeirLoop

// `http-after-response`: rules that edit every response on its way to the
// client, after the `http-response` rules and the persistence analysis:
// the server's responses, and the proxy's own answers (error pages,
// redirects, `return`, denials, the statistics page), which the response
// rules never see. The backend's run first, then the frontend's, as with
// `http-response`. An answer is edited by loading its head into the rules
// engine as if a server had sent it, then writing it again.

/// An answer after the `http-after-response` rules.
struct EditedAnswer {
    var buffer: Int32
    var count: Int
    var status: Int
    /// An edit did not fit: the answer is the 500 page, logged `I`.
    var failed = false
}

extension Worker {
    /// Whether the exchange's frontend or backend has `http-after-response` rules.
    @inline(__always)
    func hasAfterResponseRules(_ slot: UInt32) -> Bool {
        let s = sessions.pointer(slot)
        let frontendPlan = rules.plan.frontend(Int(s.pointee.frontend))
        if !frontendPlan.pointee.afterResponseRules.isEmpty { return true }
        let backend = Int(s.pointee.backend)
        return backend >= 0 && backend != frontendPlan.pointee.ownBackend
            && !rules.plan.backend(backend).pointee.afterResponseRules.isEmpty
    }

    /// Runs the backend's then the frontend's `http-after-response` rules
    /// over the response the rules engine holds.
    private mutating func runAfterResponseRules(_ slot: UInt32) -> RuleVerdict {
        let s = sessions.pointer(slot)
        let frontendPlan = rules.plan.frontend(Int(s.pointee.frontend))
        let backend = Int(s.pointee.backend)
        var verdict = RuleVerdict.proceed
        if backend >= 0 && backend != frontendPlan.pointee.ownBackend {
            verdict = rules.run(rules.plan.backend(backend).pointee.afterResponseRules)
        }
        if case .proceed = verdict { verdict = rules.run(frontendPlan.pointee.afterResponseRules) }
        return verdict
    }

    /// Over a server's response, once the response rules have run (the
    /// engine holds it): false when an edit did not fit and the client
    /// gets a 500 instead, as HAProxy answers then.
    @inline(__always)
    mutating func applyAfterResponseRules(_ slot: UInt32, loop: inout EventLoop) -> Bool {
        guard hasAfterResponseRules(slot) else { return true }
        if case .proceed = runAfterResponseRules(slot) { return true }
        reply(slot, status: 500, cause: "I", phase: "H", loop: &loop)
        return false
    }

    /// Over an answer the proxy wrote in pooled buffer `buffer` (its head
    /// and the start of its body, `count` bytes): the answer as the rules
    /// left it, in a new buffer, with its status. Body bytes that no longer
    /// fit go ahead of the rest of a long answer. When an edit does not
    /// fit, the answer is the built-in 500 page, unedited.
    mutating func editAnswer(_ slot: UInt32, buffer: Int32, count: Int, status: Int) -> EditedAnswer {
        let s = sessions.pointer(slot)
        let bytes = UnsafeRawBufferPointer(start: buffers.pointer(buffer), count: count)
        var scanner = HeadScanner()
        guard case .complete(let headEnd) = scanner.scan(bytes, limits: httpLimits) else {
            return EditedAnswer(buffer: buffer, count: count, status: status)
        }
        let head = UnsafeRawBufferPointer(rebasing: bytes[0..<headEnd])
        let response: ResponseHead
        do throws(HTTPParseError) {
            response = try HTTPParser.parseResponse(head, requestMethod: s.pointee.exchange.method, headers: &headers,
                                                    limits: httpLimits)
        } catch {
            return EditedAnswer(buffer: buffer, count: count, status: status)
        }
        loadSampleInput(slot)
        rules.beginAnswer(head: head, headers: headers, response: response)
        guard case .proceed = runAfterResponseRules(slot), let edited = buffers.acquire() else {
            return internalErrorAnswer(slot, replacing: buffer)
        }
        var w = HeadWriter(buffers.pointer(edited), capacity: bufferSize)
        rules.writeStatusLine(rules.status, reason: rules.reason, into: &w)
        var lines = FieldLineRun(in: head)
        for i in 0..<rules.fieldCount where !rules.fields[i].removed {
            lines.append(name: rules.fields[i].name, value: rules.fields[i].value, to: &w)
        }
        lines.flush(to: &w)
        w.append("\r\n")
        guard !w.overflowed else {
            buffers.release(edited)
            return internalErrorAnswer(slot, replacing: buffer)
        }
        let body = UnsafeRawBufferPointer(rebasing: bytes[headEnd...])
        let fits = min(body.count, bufferSize - w.count)
        w.append(UnsafeRawBufferPointer(rebasing: body[0..<fits]))
        if fits < body.count {
            // Rare: only an answer already near a buffer's size gets here.
            var rest = Array(body[fits...])
            if let pending = longAnswers[slot] { rest += pending.bytes[pending.sent...] }
            longAnswers[slot] = LongAnswer(bytes: rest, sent: 0)
        }
        let editedCount = w.count
        buffers.release(buffer)
        return EditedAnswer(buffer: edited, count: editedCount, status: rules.status)
    }

    /// The built-in 500 page in place of an answer the rules could not edit.
    private mutating func internalErrorAnswer(_ slot: UInt32, replacing buffer: Int32) -> EditedAnswer {
        if !longAnswers.isEmpty { longAnswers[slot] = nil }
        let page = errorPages.page(for: 500)
        let count = min(page.count, bufferSize)
        page.withUnsafeBytes { buffers.pointer(buffer).copyMemory(from: $0.baseAddress!, byteCount: count) }
        return EditedAnswer(buffer: buffer, count: count, status: 500, failed: true)
    }
}
