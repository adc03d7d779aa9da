import Glibc
import Testing
import WeirConfig
import WeirShared
import WeirSystem

@Suite("Run-time server addresses in shared memory")
struct ServerAddressesTests {
    @Test("set, read back from another mapping, resolution maintenance, and initial addresses only once")
    func roundTrip() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(twoProxies), slots: 1)
        defer { Posix.close(fd) }
        let worker = try #require(SharedSegment.attach(fd))
        let s1 = segment.layout.server(backend: 0, 0)
        #expect(!worker.runtimeAddress(s1).isSet)
        let version = worker.stateVersion
        #expect(segment.setAddress(ip: [10, 0, 0, 7], port: 8080, s1))
        #expect(worker.stateVersion != version)
        let read = worker.runtimeAddress(s1)
        #expect(read.isSet && read.ip == [10, 0, 0, 7] && read.port == 8080 && read.hostText == "10.0.0.7")
        #expect(read.socketAddress?.description == "10.0.0.7:8080")
        #expect(!segment.setAddress(ip: [10, 0, 0, 7], port: 8080, s1), "unchanged")
        let v6 = [UInt8](repeating: 0, count: 15) + [1]
        #expect(segment.setAddress(ip: v6, port: 80, s1))
        #expect(worker.runtimeAddress(s1).hostText == "::1" && worker.runtimeAddress(s1).generation == 2)
        // No address: resolution maintenance, until an address comes back.
        #expect(segment.setAddress(ip: [], port: 0, s1))
        #expect(worker.admin(s1).contains(.resolution) && !worker.isUsable(s1))
        #expect(worker.runtimeAddress(s1).socketAddress == nil)
        #expect(segment.setAddress(ip: [10, 0, 0, 8], port: 80, s1))
        #expect(!worker.admin(s1).contains(.resolution))
        // A worker's initial address goes only into a record never written.
        let addresses = try #require(worker.addresses)
        #expect(!addresses.store(RuntimeAddress(ip: [1, 2, 3, 4], port: 1, initial: true), s1))
        let s2 = segment.layout.server(backend: 0, 1)
        #expect(addresses.store(RuntimeAddress(ip: [1, 2, 3, 4], port: 1, initial: true), s2))
        #expect(!addresses.store(RuntimeAddress(ip: [5, 6, 7, 8], port: 1, initial: true), s2))
        #expect(segment.runtimeAddress(s2).initial && segment.runtimeAddress(s2).ip == [1, 2, 3, 4])
    }

    @Test("a reload carries an address set at run time, not a worker's initial one")
    func reloadCarries() throws {
        let (oldFD, old) = try SharedSegment.create(configuration: parsed(twoProxies), slots: 1)
        defer { Posix.close(oldFD) }
        let s1 = old.layout.server(backend: 0, 0), s2 = old.layout.server(backend: 0, 1)
        old.setAddress(ip: [10, 0, 0, 9], port: 81, s1)
        old.addresses?.store(RuntimeAddress(ip: [1, 2, 3, 4], port: 1, initial: true), s2)
        let (newFD, new) = try SharedSegment.create(configuration: parsed(twoProxies), slots: 1)
        defer { Posix.close(newFD) }
        new.takeOver(from: old)
        #expect(new.runtimeAddress(s1).ip == [10, 0, 0, 9] && new.runtimeAddress(s1).port == 81)
        #expect(!new.runtimeAddress(s2).isSet)
    }
}
