import Glibc
import Testing
import WeirConfig
import WeirShared
import WeirSystem

@Suite struct ControlMessageTests {
    @Test func helloSurvivesEncoding() {
        let hello = ControlMessage.hello(.init(generation: 7, slot: 1, masterPID: 4242, listeners: [
            .init(frontend: 0, name: "127.0.0.1:8080"), .init(frontend: 2, name: "[::1]:443"),
        ]))
        #expect(ControlMessage.decode(hello.encoded()) == hello)
        for message in [ControlMessage.ready, .drain, .stop, .serverState(.init(backend: 2, server: 5, usable: false, weight: 17)),
                        .observed(backend: 1, server: 0, outcome: "HTTP503"), .tls(.ocspResponse([0x30, 0x82, 0, 0xff])),
                        .tls(.ticketKey(file: "/etc/weir/ticket keys", key: Array(0..<48)))] {
            #expect(ControlMessage.decode(message.encoded()) == message)
        }
        #expect(ControlMessage.decode(Array("HELLO 1 x 3\n".utf8)) == nil)
        #expect(ControlMessage.decode(Array("OCSP 3g\n".utf8)) == nil)
        #expect(ControlMessage.decode(Array("TLSKEY 00\n".utf8)) == nil)
        #expect(ControlMessage.decode([]) == nil)
    }

    @Test func configBundleKeepsNamesAndBytes() {
        let files = [ConfigFile(name: "/etc/weir/a.cfg", bytes: Array("global\n  maxconn 10\n".utf8)),
                     ConfigFile(name: "b with spaces.cfg", bytes: [0, 10, 255]),
                     ConfigFile(name: "empty.cfg", bytes: [])]
        #expect(ConfigBundle.decode(ConfigBundle.encode(files)) == files)
        #expect(ConfigBundle.decode(Array("FILE 99 short\nabc".utf8)) == nil)
    }
}

@Suite struct ListenerBindingTests {
    func configuration(_ binds: [String]) throws -> Configuration {
        let text = "defaults\n timeout client 1s\n timeout connect 1s\n timeout server 1s\nfrontend fe\n"
            + binds.map { " bind \($0)\n" }.joined() + " default_backend be\nbackend be\n server s 127.0.0.1:9\n"
        return try #require(ConfigParser.parse([ConfigFile(name: "t.cfg", bytes: Array(text.utf8))], environment: [:]).configuration)
    }

    @Test func oneSocketPerSlotOnOnePortAndReuseOnReload() throws {
        var inherited: [ListenerKey: Int32] = [:]
        let first = try ListenerBinding.bindAll(configuration(["127.0.0.1:0"]), slots: 3, reusing: &inherited)
        #expect(first.map(\.key.slot) == [0, 1, 2])
        let ports = Set(first.map { $0.name })
        #expect(ports.count == 1, "every slot listens on the port the kernel chose for slot 0: \(ports)")

        // A reload with the same bind and one more keeps the three sockets.
        for listener in first { inherited[listener.key] = listener.fd }
        let second = try ListenerBinding.bindAll(configuration(["127.0.0.1:0", "[::1]:0"]), slots: 3, reusing: &inherited)
        #expect(inherited.isEmpty)
        #expect(Array(second.prefix(3).map(\.fd)) == first.map(\.fd), "the kept bind keeps its sockets")
        #expect(second.count == 6)
        #expect(Set(second.suffix(3).map(\.name)).count == 1)
        for listener in second { Posix.close(listener.fd) }
    }

    @Test func fewerSlotsKeepTheSocketsOfTheSlotsThatWentAway() throws {
        var inherited: [ListenerKey: Int32] = [:]
        let four = try ListenerBinding.bindAll(configuration(["127.0.0.1:0"]), slots: 4, reusing: &inherited)
        for listener in four { inherited[listener.key] = listener.fd }
        // Connections may already wait on slots 2 and 3: their sockets must stay.
        let two = try ListenerBinding.bindAll(configuration(["127.0.0.1:0"]), slots: 2, reusing: &inherited)
        #expect(inherited.isEmpty)
        #expect(Set(two.map(\.fd)) == Set(four.map(\.fd)))
        #expect(Set(two.map(\.key.slot)) == [0, 1, 2, 3])
        // A bind that is gone releases all its slots.
        for listener in two { inherited[listener.key] = listener.fd }
        let other = try ListenerBinding.bindAll(configuration(["[::1]:0"]), slots: 2, reusing: &inherited)
        #expect(inherited.count == 4, "the removed bind's four sockets are left for the caller to close")
        for fd in inherited.values { Posix.close(fd) }
        for listener in other { Posix.close(listener.fd) }
    }

    @Test func aFailedBindClosesWhatItOpenedAndReturnsWhatItReused() throws {
        var inherited: [ListenerKey: Int32] = [:]
        let kept = try ListenerBinding.bindAll(configuration(["127.0.0.1:0"]), slots: 1, reusing: &inherited)
        defer { for listener in kept { Posix.close(listener.fd) } }
        for listener in kept { inherited[listener.key] = listener.fd }
        let holder = try Posix.socket(domain: AF_INET, type: Posix.streamType)
        try Posix.bind(holder.rawValue, to: SocketAddress(ip: [127, 0, 0, 1], port: 0))
        try Posix.listen(holder.rawValue, backlog: 4)
        let taken = try Posix.localAddress(holder.rawValue).port
        #expect(throws: StartupError.self) {
            _ = try ListenerBinding.bindAll(configuration(["127.0.0.1:0", "127.0.0.1:\(taken)"]), slots: 2, reusing: &inherited)
        }
        #expect(inherited.count == 1 && inherited.values.first == kept[0].fd, "the kept socket is still the caller's")
    }
}
