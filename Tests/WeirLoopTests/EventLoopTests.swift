import Glibc
import Testing
import WeirLoop
import WeirSystem

/// Records what the loop delivers.
struct Recorder: ~Copyable, EventHandler {
    var events: [(Token, UInt32)] = []
    var timers: [Token] = []
    var ticks = 0

    mutating func handleEvent(_ token: Token, events: UInt32, loop: inout EventLoop) {
        self.events.append((token, events))
    }

    mutating func handleTimer(_ token: Token, deadline: Int64, loop: inout EventLoop) {
        timers.append(token)
        #expect(deadline <= loop.now)
    }

    mutating func endOfTick(loop: inout EventLoop) { ticks += 1 }
}

@Suite struct EventLoopTests {
    @Test func deliversReadinessWithItsToken() throws {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        var loop = try EventLoop()
        var recorder = Recorder()
        let token = Token(kind: 2, slot: 42, generation: 7)
        try loop.register(fds[0], events: Epoll.readable, token: token)
        loop.tick(&recorder, maximumWait: 0)
        #expect(recorder.events.isEmpty, "nothing is readable yet")
        var byte: UInt8 = 1
        #expect(write(fds[1], &byte, 1) == 1)
        loop.tick(&recorder, maximumWait: 5000)
        #expect(recorder.events.count == 1)
        #expect(recorder.events.first?.0 == token)
        #expect((recorder.events.first?.1 ?? 0) & Epoll.readable != 0)
        #expect(recorder.ticks == 2)
    }

    @Test func runsTimersOnceTheirDeadlinePasses() throws {
        var loop = try EventLoop()
        var recorder = Recorder()
        let soon = Token(kind: 1, slot: 1)
        let later = Token(kind: 1, slot: 2)
        loop.schedule(soon, at: loop.now + 20)
        loop.schedule(later, at: loop.now + 60_000)
        // The loop waits on epoll no longer than the next deadline, so this
        // returns once the first timer is due, well before the 10 s bound.
        for _ in 0..<1000 where recorder.timers.isEmpty { loop.tick(&recorder, maximumWait: 10_000) }
        #expect(recorder.timers == [soon])
    }
}
