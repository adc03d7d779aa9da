import WeirLoop
import WeirSystem

extension Worker {
    /// `http-request return` in a proxy with no other HTTP rules: read the
    /// request head, answer with the canned response, shut the write side,
    /// then discard input until the client closes.
    mutating func serveLocally(_ slot: UInt32, loop: inout EventLoop) {
        let s = sessions.pointer(slot)
        if s.pointee.phase == .localRequest {
            let before = s.pointee.toServer.tail
            let status = pump(&s.pointee.toServer, from: s.pointee.clientFD, to: -1, sinkReady: false)
            if status.sourceError != nil {
                close(slot, cause: "C", loop: &loop)
                return
            }
            if status.sourceActive { touchClient(slot, now: loop.now) }
            let d = s.pointee.toServer
            if d.buffer >= 0 && headComplete(buffers.pointer(d.buffer), from: max(0, before - 3), to: d.tail) {
                s.pointee.phase = .localResponse
                s.pointee.toClient.head = 0
                buffers.release(d.buffer)
                s.pointee.toServer.buffer = -1
                s.pointee.toServer.head = 0
                s.pointee.toServer.tail = 0
            } else if d.sourceEOF {
                close(slot, cause: d.bytes == 0 ? "-" : "C", loop: &loop)
                return
            } else if d.tail == bufferSize {
                // A request head larger than a buffer is not something we answer.
                close(slot, cause: "P", loop: &loop)
                return
            }
        }
        if s.pointee.phase == .localResponse {
            let response = frontends[Int(s.pointee.frontend)].localResponse!
            while s.pointee.toClient.sinkWritable && s.pointee.toClient.head < response.count {
                let offset = s.pointee.toClient.head
                let result = response.withUnsafeBytes { raw in
                    Result { () throws(Errno) -> IOResult in
                        try Posix.send(s.pointee.clientFD, from: raw.baseAddress! + offset, count: raw.count - offset)
                    }
                }
                switch result {
                case .success(.processed(let n)):
                    s.pointee.toClient.head += n
                    s.pointee.toClient.bytes += Int64(n)
                case .success(.wouldBlock):
                    s.pointee.toClient.sinkWritable = false
                case .failure:
                    close(slot, cause: "C", loop: &loop)
                    return
                }
            }
            if s.pointee.toClient.head == response.count {
                Posix.shutdownWrite(s.pointee.clientFD)
                s.pointee.toClient.sinkShut = true
                s.pointee.toClient.head = 0
                s.pointee.phase = .localDrain
                touchClient(slot, now: loop.now)
            }
        }
        if s.pointee.phase == .localDrain {
            let status = pump(&s.pointee.toServer, from: s.pointee.clientFD, to: -1, sinkReady: false)
            discard(&s.pointee.toServer)
            if status.sourceError != nil || s.pointee.toServer.sourceEOF {
                close(slot, cause: "-", loop: &loop)
                return
            }
            if status.sourceActive { touchClient(slot, now: loop.now) }
        }
        rearm(slot, loop: &loop)
    }

    private mutating func discard(_ d: inout Direction) {
        if d.buffer >= 0 { buffers.release(d.buffer) }
        d.buffer = -1
        d.head = 0
        d.tail = 0
    }

    /// Whether `\r\n\r\n` ends the request head within `from..<to`.
    private func headComplete(_ base: UnsafeMutableRawPointer, from: Int, to: Int) -> Bool {
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        var i = from
        while i + 3 < to {
            if bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { return true }
            i += 1
        }
        return false
    }
}
