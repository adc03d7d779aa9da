import Foundation
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

/// A handler that counts every event's connection as busy.
struct BusyRecorder: ~Copyable, EventHandler {
    var events = 0
    var stamps = [Int64](repeating: -1, count: 64)

    mutating func handleEvent(_ token: Token, events: UInt32, loop: inout EventLoop) {
        self.events += 1
        loop.coalescing.countBusy(&stamps[Int(token.slot)])
    }
    mutating func handleTimer(_ token: Token, deadline: Int64, loop: inout EventLoop) {}
    mutating func endOfTick(loop: inout EventLoop) {}
}

@Suite struct EventLoopCoalescingTests {
    @Test func aNappingLoopStillDeliversEveryEvent() throws {
        var pairs: [[Int32]] = []
        var loop = try EventLoop(coalescing: WakeupCoalescing(napNanoseconds: 20_000))
        for i in 0..<12 {
            var fds: [Int32] = [0, 0]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
            pairs.append(fds)
            try loop.register(fds[0], events: Epoll.readable | Epoll.edgeTriggered, token: Token(kind: 1, slot: UInt32(i)))
        }
        defer { for fds in pairs { close(fds[0]); close(fds[1]) } }
        var handler = BusyRecorder()
        var byte: UInt8 = 1
        // Twelve busy connections, then a batch of three: the loop naps
        // (unless a millisecond passed between the two ticks: then again).
        for _ in 0..<100 where !loop.coalescing.napping {
            for fds in pairs { #expect(write(fds[1], &byte, 1) == 1) }
            loop.tick(&handler, maximumWait: 5000)
            for fds in pairs.prefix(3) { #expect(write(fds[1], &byte, 1) == 1) }
            loop.tick(&handler, maximumWait: 5000)
        }
        try #require(loop.coalescing.napping)
        #expect(handler.events % 15 == 0)
        let before = handler.events
        // Written before the wait: a napping loop finds them without napping.
        for fds in pairs.prefix(2) { #expect(write(fds[1], &byte, 1) == 1) }
        loop.tick(&handler, maximumWait: 5000)
        #expect(handler.events == before + 2)
        // Nothing ready: it naps, then waits, and the byte still arrives.
        let writer = pairs[11][1]
        let thread = Thread { var b: UInt8 = 2; _ = write(writer, &b, 1) }
        thread.start()
        loop.tick(&handler, maximumWait: 5000)
        #expect(handler.events == before + 3)
    }
}
