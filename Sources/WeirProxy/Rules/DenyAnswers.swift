import WeirHTTP
import WeirLoop
import WeirSystem

extension Worker {
    /// Sends the custom answer of `deny` (or of `tarpit`, once its delay is
    /// over), logged `P` with `phase`, then closes the client connection as
    /// HAProxy does after a denial. The answer is written from its prebuilt
    /// parts; a `default-errorfiles` body is the proxy's page for the status.
    mutating func sendDenial(_ slot: UInt32, _ answer: CompiledReturn, phase: Character, loop: inout EventLoop) {
        if case .errorPage = answer.body {
            reply(slot, status: answer.status, cause: "P", phase: phase, loop: &loop)
            return
        }
        guard let id = buffers.acquire() else {
            close(slot, cause: "R", phase: phase, loop: &loop)
            return
        }
        guard let count = writeDenial(slot, answer, into: id) else {
            buffers.release(id)
            reply(slot, status: 500, cause: "I", phase: phase, loop: &loop)
            return
        }
        commitAnswer(slot, buffer: id, count: count, status: answer.status, cause: "P", phase: phase,
                     keepAlive: false, requestEnd: nil, loop: &loop)
    }

    /// Writes a denial's answer into buffer `id`; its length, or nil when it
    /// does not fit.
    mutating func writeDenial(_ slot: UInt32, _ answer: CompiledReturn, into id: Int32) -> Int? {
        var writer = HeadWriter(buffers.pointer(id), capacity: bufferSize)
        guard rules.writeReturn(answer, into: &writer, connection: .close,
                                omitBody: sessions.pointer(slot).pointee.exchange.method == .head) else { return nil }
        return writer.count
    }
}

extension RuleVerdict {
    var isSilentDrop: Bool {
        if case .silentDrop = self { return true }
        return false
    }
}

extension Worker {
    /// `reject` and `silent-drop`: the exchange is logged, with no status,
    /// as ended by the proxy (`PR` or `PH`); the client gets no answer, and
    /// with `silently` a reset it is not meant to see.
    mutating func closeWithoutAnswer(_ slot: UInt32, silently: Bool, phase: Character, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        s.pointee.exchange.started = true
        if silently { Posix.prepareSilentReset(s.pointee.clientFD) }
        close(slot, cause: "P", phase: phase, loop: &loop)
    }
}
