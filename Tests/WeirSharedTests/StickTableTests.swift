import Glibc
import Testing
import WeirConfig
import WeirShared
import WeirSystem

private func tableConfig(_ table: String) -> String {
    """
    defaults
     timeout client 1s
     timeout connect 1s
     timeout server 1s
    listen app
     bind 127.0.0.1:0
     \(table)
     stick on src
     server s1 127.0.0.1:8001
     server s2 127.0.0.1:8002
    backend other
     server o1 127.0.0.1:9001

    """
}

private func ip(_ text: String) -> [UInt8] { StickKeyType.ip.parse(text, length: 4)! }

@Suite struct StickTableTests {
    @Test func insertsAndLooksUp() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(tableConfig("stick-table type ip size 100")), slots: 2)
        defer { Posix.close(fd) }
        #expect(segment.tables.count == 1)
        let table = try #require(segment.table(named: "app"))
        #expect(segment.table(named: "other") == nil)
        #expect(table.info.type == .ip && table.info.size == 100 && table.info.expire == 0)
        let a = ip("127.0.0.2"), b = ip("10.1.2.3")
        #expect(a.withUnsafeBytes { table.lookup($0, now: 1000) } == nil)
        #expect(a.withUnsafeBytes { table.store($0, serverID: 2, now: 1000) })
        #expect(b.withUnsafeBytes { table.store($0, serverID: 1, now: 1000) })
        #expect(a.withUnsafeBytes { table.lookup($0, now: 2000) } == 2)
        #expect(b.withUnsafeBytes { table.lookup($0, now: 2000) } == 1)
        #expect(table.used == 2)
        // A store updates the entry in place.
        #expect(a.withUnsafeBytes { table.store($0, serverID: 1, now: 3000) })
        #expect(a.withUnsafeBytes { table.lookup($0, now: 3000) } == 1)
        #expect(table.used == 2)
        let entries = table.entries(now: 3000)
        #expect(Set(entries.map { StickKeyType.ip.text($0.key) }) == ["127.0.0.2", "10.1.2.3"])
        #expect(entries.allSatisfy { $0.expiresIn == nil })
        #expect(a.withUnsafeBytes { table.remove($0) })
        #expect(a.withUnsafeBytes { table.lookup($0, now: 3000) } == nil)
        #expect(table.used == 1)
        #expect(table.removeAll(now: 3000) == 1)
        #expect(table.used == 0)
    }

    @Test func entriesExpire() throws {
        let (fd, segment) = try SharedSegment.create(
            configuration: parsed(tableConfig("stick-table type string len 8 size 10 expire 5s")), slots: 1)
        defer { Posix.close(fd) }
        let table = try #require(segment.table(named: "app"))
        #expect(table.info.keyLength == 8 && table.info.expire == 5000)
        let key = Array("alice-is-long".utf8)
        #expect(key.withUnsafeBytes { table.store($0, serverID: 7, now: 10_000) })
        // Keys are cut to `len`.
        #expect(Array("alice-is".utf8).withUnsafeBytes { table.lookup($0, now: 10_001) } == 7)
        #expect(table.entries(now: 12_000).first?.expiresIn == 3000)
        #expect(key.withUnsafeBytes { table.lookup($0, now: 14_999) } == 7)
        #expect(key.withUnsafeBytes { table.lookup($0, now: 15_000) } == nil)
        #expect(table.used == 0)
        // A store re-arms the expiry.
        #expect(key.withUnsafeBytes { table.store($0, serverID: 7, now: 20_000) })
        #expect(key.withUnsafeBytes { table.store($0, serverID: 8, now: 24_000) })
        #expect(key.withUnsafeBytes { table.lookup($0, now: 28_000) } == 8)
        #expect(table.entries(now: 29_001).isEmpty)
    }

    @Test func aFullTableEvictsItsLeastRecentlyUsedEntries() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(tableConfig("stick-table type integer size 16")),
                                                     slots: 1)
        defer { Posix.close(fd) }
        let table = try #require(segment.table(named: "app"))
        func key(_ n: Int64) -> [UInt8] { StickKeyType.integer.parse(String(n), length: 8)! }
        for n in 0..<200 {
            #expect(key(Int64(n)).withUnsafeBytes { table.store($0, serverID: n, now: Int64(n)) })
            #expect(table.used <= 16)
        }
        #expect(table.used >= 8)
        // The most recent key is always there; the oldest ones went.
        #expect(key(199).withUnsafeBytes { table.lookup($0, now: 300) } == 199)
        #expect(key(0).withUnsafeBytes { table.lookup($0, now: 300) } == nil)
        #expect(StickKeyType.integer.text(key(-42)) == "-42")
    }

    @Test func nopurgeRefusesNewKeysWhenFull() throws {
        let (fd, segment) = try SharedSegment.create(
            configuration: parsed(tableConfig("stick-table type integer size 4 nopurge")), slots: 1)
        defer { Posix.close(fd) }
        let table = try #require(segment.table(named: "app"))
        var stored = 0
        for n in 0..<20 where StickKeyType.integer.parse(String(n), length: 8)!.withUnsafeBytes({
            table.store($0, serverID: 1, now: 1)
        }) { stored += 1 }
        #expect(stored == 4)
        #expect(table.used == 4)
    }

    @Test func concurrentWritersFromTwoMappings() throws {
        let (fd, segment) = try SharedSegment.create(
            configuration: parsed(tableConfig("stick-table type integer size 16k")), slots: 2)
        defer { Posix.close(fd) }
        // A second mapping of the memfd stands in for another worker.
        let other = try #require(SharedSegment.attach(fd))
        let tables = [try #require(segment.table(named: "app")), try #require(other.table(named: "app"))]
        #expect(tables[1].info == tables[0].info)
        final class Box: @unchecked Sendable { var tables: [StickTable] = [] }
        let box = Box()
        box.tables = tables
        var threads: [pthread_t] = []
        for writer in 0..<2 {
            let context = Unmanaged.passRetained(Writer(table: box.tables[writer], id: writer + 1)).toOpaque()
            var thread = pthread_t()
            #expect(pthread_create(&thread, nil, { raw in
                let writer = Unmanaged<Writer>.fromOpaque(raw!).takeRetainedValue()
                writer.run()
                return nil
            }, context) == 0)
            threads.append(thread)
        }
        for thread in threads { pthread_join(thread, nil) }
        // Every key of 0..<1000 holds one of the two writers' ids; nothing
        // was lost or duplicated.
        #expect(tables[0].used == 1000)
        for n in 0..<1000 {
            let found = StickKeyType.integer.parse(String(n), length: 8)!.withUnsafeBytes { tables[1].lookup($0, now: 1) }
            #expect(found == 1 || found == 2)
        }
        #expect(tables[0].entries(now: 1).count == 1000)
    }

    @Test func aReloadCarriesEntriesOfTablesThatKeepNameAndType() throws {
        let (oldFD, old) = try SharedSegment.create(configuration: parsed(tableConfig("stick-table type ip size 100 expire 1h")),
                                                    slots: 1)
        defer { Posix.close(oldFD) }
        let now = Clock.monotonicMilliseconds()
        #expect(ip("127.0.0.9").withUnsafeBytes { old.table(named: "app")!.store($0, serverID: 2, now: now) })
        let (newFD, new) = try SharedSegment.create(configuration: parsed(tableConfig("stick-table type ip size 200 expire 1h")),
                                                    slots: 1)
        defer { Posix.close(newFD) }
        new.takeOver(from: old)
        #expect(ip("127.0.0.9").withUnsafeBytes { new.table(named: "app")!.lookup($0, now: now + 1) } == 2)
        let (otherFD, other) = try SharedSegment.create(configuration: parsed(tableConfig("stick-table type ipv6 size 200")),
                                                        slots: 1)
        defer { Posix.close(otherFD) }
        other.takeOver(from: old)
        #expect(other.table(named: "app")!.used == 0)
    }
}

private final class Writer {
    let table: StickTable
    let id: Int
    init(table: StickTable, id: Int) {
        self.table = table
        self.id = id
    }

    func run() {
        for round in 0..<3 {
            for n in 0..<1000 {
                let key = StickKeyType.integer.parse(String(n), length: 8)!
                _ = key.withUnsafeBytes { table.store($0, serverID: id, now: Int64(round)) }
            }
        }
    }
}
