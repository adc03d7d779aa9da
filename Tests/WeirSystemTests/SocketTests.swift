import Glibc
import Testing
@testable import WeirSystem

@Suite struct SocketAddressTests {
    @Test func formatsIPv4AndIPv6() {
        let v4 = SocketAddress(ip: [127, 0, 0, 1], port: 8080)
        #expect(v4.description == "127.0.0.1:8080")
        for ip: [UInt8] in [[0, 0, 0, 0], [255, 255, 255, 255], [10, 99, 100, 9], [192, 168, 1, 250]] {
            let expected = ip.map(String.init).joined(separator: ".")
            #expect(SocketAddress(ip: ip, port: 1).description == expected + ":1")
        }
        #expect(v4.port == 8080)
        #expect(v4.family == AF_INET)
        var v6bytes = [UInt8](repeating: 0, count: 16)
        v6bytes[15] = 1
        let v6 = SocketAddress(ip: v6bytes, port: 443)
        #expect(v6.description == "[::1]:443")
        #expect(v6.withIPBytes { Array($0) } == v6bytes)
    }

    /// IPv4 is printed without inet_ntop: the same text for every octet width.
    @Test(arguments: [[0, 0, 0, 0], [255, 255, 255, 255], [10, 0, 99, 100], [1, 22, 203, 9], [192, 168, 100, 10],
                      [127, 0, 0, 1], [99, 100, 9, 10], [200, 5, 50, 250]])
    func formatsIPv4AsInetNtopDoes(_ octets: [UInt8]) {
        let address = SocketAddress(ip: octets, port: 1)
        var expected = [CChar](repeating: 0, count: 46)
        var written = [CChar](repeating: 0x7F, count: 46)
        let n = written.withUnsafeMutableBufferPointer { address.formatHost(into: $0.baseAddress!) }
        octets.withUnsafeBytes { _ = inet_ntop(AF_INET, $0.baseAddress, &expected, 46) }
        #expect(Array(written[0...n]) == Array(expected[0...n]))
        #expect(n == strlen(expected))
        var compact = [CChar](repeating: 0x7F, count: 46)
        #expect(compact.withUnsafeMutableBufferPointer { PeerAddress(address).formatHost(into: $0.baseAddress!) } == n)
        #expect(Array(compact[0...n]) == Array(expected[0...n]))
    }

    @Test func unixPathsAndTheirLimit() {
        #expect(SocketAddress(unixPath: "/run/weir.sock")?.description == "/run/weir.sock")
        #expect(SocketAddress(unixPath: String(repeating: "x", count: 200)) == nil)
    }

    @Test func resolvesLocalhost() throws {
        let address = try SocketAddress.resolve(host: "localhost", port: 80)
        #expect(address.port == 80)
        #expect(address.description == "127.0.0.1:80" || address.description == "[::1]:80")
    }
}

/// The compact form every session keeps of its client's address.
@Suite struct PeerAddressTests {
    @Test func keepsWhatASessionNeedsInALineOfCache() {
        #expect(MemoryLayout<PeerAddress>.stride <= 24)
    }

    @Test func convertsBackToTheSameSocketAddress() {
        var v6bytes = [UInt8](repeating: 0, count: 16)
        v6bytes[0] = 0xfe
        v6bytes[1] = 0x80
        v6bytes[15] = 7
        var linkLocal = SocketAddress(ip: v6bytes, port: 50000)
        withUnsafeMutableBytes(of: &linkLocal.storage) {
            $0.storeBytes(of: UInt32(3), toByteOffset: MemoryLayout<sockaddr_in6>.offset(of: \.sin6_scope_id)!, as: UInt32.self)
        }
        for address in [SocketAddress(ip: [192, 168, 10, 200], port: 443), linkLocal] {
            let peer = PeerAddress(address)
            let back = peer.socketAddress
            #expect(back.length == address.length)
            #expect(withUnsafeBytes(of: back.storage) { Array($0.prefix(Int(back.length))) }
                    == withUnsafeBytes(of: address.storage) { Array($0.prefix(Int(address.length))) })
            #expect(peer.family == address.family)
            #expect(peer.port == address.port)
            #expect(peer.withIPBytes { Array($0) } == address.withIPBytes { Array($0) })
            #expect(PeerAddress(back) == peer)
        }
    }

    @Test func printsAsTheSocketAddressDoes() {
        var v6bytes = [UInt8](repeating: 0, count: 16)
        v6bytes[15] = 1
        #expect(PeerAddress(SocketAddress(ip: [10, 0, 99, 100], port: 8080)).description == "10.0.99.100:8080")
        #expect(PeerAddress(SocketAddress(ip: v6bytes, port: 443)).description == "[::1]:443")
        var text = [CChar](repeating: 0, count: 46)
        let n = text.withUnsafeMutableBufferPointer {
            PeerAddress(SocketAddress(ip: v6bytes, port: 443)).formatHost(into: $0.baseAddress!)
        }
        #expect(String(decoding: text[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) == "::1")
    }

    /// A UNIX client has no IP, no port, and prints as HAProxy logs it.
    @Test func unixPeersPrintAsUnix() throws {
        let peer = PeerAddress(try #require(SocketAddress(unixPath: "/run/weir.sock")))
        #expect(peer.family == AF_UNIX)
        #expect(peer.port == 0)
        #expect(peer.withIPBytes { $0.count } == 0)
        #expect(peer.description == "unix")
        #expect(peer.socketAddress.family == AF_UNIX)
    }
}

@Suite struct ListeningTests {
    @Test func bindsAnEphemeralPortAndAcceptsWithoutBlocking() throws {
        let listener = try Listening.open(SocketAddress(ip: [127, 0, 0, 1], port: 0), reusePort: true)
        let bound = try Posix.localAddress(listener.rawValue)
        #expect(bound.port != 0)
        var peer = SocketAddress()
        #expect(try Posix.accept(listener.rawValue, peer: &peer) == nil, "no client yet: would block")

        let client = try Posix.socket(domain: AF_INET, type: Posix.streamType)
        _ = try Posix.connect(client.rawValue, to: bound)
        var accepted: Int32?
        for _ in 0..<1000 where accepted == nil {
            accepted = try Posix.accept(listener.rawValue, peer: &peer)
            if accepted == nil { usleep(1000) }
        }
        let server = try #require(accepted)
        defer { Posix.close(server) }
        #expect(peer.description.hasPrefix("127.0.0.1:"))

        var message = Array("ping".utf8)
        #expect(try Posix.send(client.rawValue, from: &message, count: 4) == .processed(4))
        var buffer = [UInt8](repeating: 0, count: 16)
        var result = IOResult.wouldBlock
        for _ in 0..<1000 where result == .wouldBlock {
            result = try Posix.read(server, into: &buffer, count: 16)
            if result == .wouldBlock { usleep(1000) }
        }
        #expect(result == .processed(4))
        #expect(Array(buffer[0..<4]) == message)
        #expect(try Posix.read(server, into: &buffer, count: 16) == .wouldBlock)
    }

    @Test func refusesAPortHeldByAnotherSocket() throws {
        // A plain socket (no SO_REUSEPORT) holds the port, as a stranger would.
        let holder = try Posix.socket(domain: AF_INET, type: Posix.streamType)
        try Posix.bind(holder.rawValue, to: SocketAddress(ip: [127, 0, 0, 1], port: 0))
        try Posix.listen(holder.rawValue, backlog: 8)
        let taken = try Posix.localAddress(holder.rawValue)
        #expect(throws: Listening.Failure.self) {
            _ = try Listening.open(taken, reusePort: true)
        }
        do {
            _ = try Listening.open(taken, reusePort: true)
        } catch {
            #expect(error.description == "cannot bind \(taken.description): address already in use by another process")
        }
    }

    @Test func adoptsOnlyListeningSockets() throws {
        let listener = try Listening.open(SocketAddress(ip: [127, 0, 0, 1], port: 0), reusePort: false)
        let duplicate = dup(listener.rawValue)
        let adopted = try Listening.adopt(duplicate)
        #expect(adopted.rawValue == duplicate)

        let plain = try Posix.socket(domain: AF_INET, type: Posix.streamType)
        #expect(throws: Listening.Failure.self) { _ = try Listening.adopt(dup(plain.rawValue)) }
        #expect(throws: Listening.Failure.self) { _ = try Listening.adopt(9999) }
    }
}
