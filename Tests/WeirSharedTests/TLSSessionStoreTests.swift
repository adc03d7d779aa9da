import Glibc
import Testing
import WeirConfig
@testable import WeirShared
import WeirSystem

private func tlsConfig(_ global: String = "") -> String {
    """
    global
    \(global)
    defaults
     mode http
     timeout client 1s
     timeout connect 1s
     timeout server 1s
    frontend fe
     bind 127.0.0.1:0 ssl crt /nonexistent.pem
     http-request return status 200

    """
}

private func key(_ seed: UInt8) -> [UInt8] { (0..<TicketKeyRing.keySize).map { UInt8(truncatingIfNeeded: Int(seed) &* 31 &+ $0) } }
private func id(_ seed: UInt8) -> [UInt8] { (0..<32).map { UInt8(truncatingIfNeeded: Int(seed) &+ $0 &* 7) } }

/// Runs `body` with the `SessionCache` of a fresh segment for `size` entries.
private func withCache(size: Int = 100, _ body: (SessionCache) throws -> Void) throws {
    let (fd, segment) = try SharedSegment.create(configuration: parsed(tlsConfig(" tune.ssl.cachesize \(size)")), slots: 1)
    defer {
        segment.unmap()
        Posix.close(fd)
    }
    try body(try #require(segment.sessionCache))
}

private func lookup(_ cache: SessionCache, _ id: [UInt8], now: Int64) -> [UInt8]? {
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: SessionCache.maxSessionBytes, alignment: 16)
    defer { buffer.deallocate() }
    guard let n = id.withUnsafeBytes({ cache.lookup(id: $0, into: buffer, now: now) }) else { return nil }
    return Array(UnsafeRawBufferPointer(start: buffer, count: n))
}

@discardableResult
private func store(_ cache: SessionCache, _ id: [UInt8], _ session: [UInt8], now: Int64, lifetime: Int64 = 10_000) -> Bool {
    id.withUnsafeBytes { i in session.withUnsafeBytes { cache.store(id: i, session: $0, now: now, lifetime: lifetime) } }
}

@Suite struct SessionCacheTests {
    @Test func storesLooksUpAndRemoves() throws {
        try withCache { cache in
            #expect(store(cache, id(1), [1, 2, 3], now: 1000))
            #expect(lookup(cache, id(1), now: 1001) == [1, 2, 3])
            #expect(lookup(cache, id(2), now: 1001) == nil)
            // The same ID again replaces the session.
            #expect(store(cache, id(1), [9, 9], now: 1002))
            #expect(lookup(cache, id(1), now: 1003) == [9, 9])
            #expect(cache.used == 1)
            #expect(id(1).withUnsafeBytes { cache.remove(id: $0) })
            #expect(lookup(cache, id(1), now: 1004) == nil)
            #expect(cache.used == 0)
        }
    }

    @Test func aSessionExpiresAfterItsLifetime() throws {
        try withCache { cache in
            store(cache, id(1), [7], now: 1000, lifetime: 300)
            #expect(lookup(cache, id(1), now: 1299) == [7])
            #expect(lookup(cache, id(1), now: 1300) == nil)
            #expect(cache.used == 0)
        }
    }

    @Test func tooLargeSessionsAndIDsAreNotCached() throws {
        try withCache { cache in
            #expect(!store(cache, id(1), [UInt8](repeating: 1, count: SessionCache.maxSessionBytes + 1), now: 1))
            #expect(store(cache, id(1), [UInt8](repeating: 1, count: SessionCache.maxSessionBytes), now: 1))
            #expect(lookup(cache, id(1), now: 2)?.count == SessionCache.maxSessionBytes)
            #expect(!store(cache, [UInt8](repeating: 1, count: 33), [1], now: 1))
            #expect(!store(cache, [], [1], now: 1))
        }
    }

    @Test func aFullCacheGivesItsLeastRecentlyUsedSessionsUp() throws {
        // 8 entries: one bucket, so which one goes is known.
        try withCache(size: 8) { cache in
            for n in 0..<8 { store(cache, id(UInt8(n)), [UInt8(n)], now: 100 + Int64(n)) }
            #expect(cache.used == 8)
            // A use of session 0 makes session 1 the least recently used.
            #expect(lookup(cache, id(0), now: 200) == [0])
            store(cache, id(50), [50], now: 201)
            #expect(cache.used == 8)
            #expect(lookup(cache, id(1), now: 202) == nil)
            #expect(lookup(cache, id(0), now: 202) == [0])
            #expect(lookup(cache, id(50), now: 202) == [50])
        }
    }

    @Test func aLockLeftByADeadProcessIsTakenOver() throws {
        try withCache { cache in
            store(cache, id(1), [1], now: 1)
            // A child that exits at once: its PID names no process any more.
            var child: pid_t = 0
            let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
            defer { for p in argv { free(p) } }
            #expect(posix_spawn(&child, "/bin/true", nil, nil, argv, environ) == 0)
            var status: Int32 = 0
            _ = waitpid(child, &status, 0)
            // Every bucket's lock held by the dead process.
            for b in 0..<cache.bucketCount {
                let word = cache.base + 64 + b * SessionCache.bucketStride
                word.storeBytes(of: Int(child), as: Int.self)
            }
            #expect(lookup(cache, id(1), now: 2) == [1])
        }
    }

    @Test(.timeLimit(.minutes(1))) func aLockNamingThisProcessIsALeftoverAndIsTakenOver() throws {
        try withCache { cache in
            store(cache, id(1), [1], now: 1)
            // A worker killed in its critical section whose PID the kernel
            // has since given to this process: the lock names a live process
            // that does not hold it. Before, the lookup spun for ever.
            for b in 0..<cache.bucketCount {
                let word = cache.base + 64 + b * SessionCache.bucketStride
                word.storeBytes(of: Int(getpid()), as: Int.self)
            }
            #expect(lookup(cache, id(1), now: 2) == [1])
            store(cache, id(2), [2], now: 3)
            #expect(lookup(cache, id(2), now: 4) == [2])
        }
    }

    @Test func aNewGenerationTakesTheLiveSessionsOver() throws {
        try withCache { old in
            store(old, id(1), [1], now: 1000, lifetime: 500)
            store(old, id(2), [2], now: 1000, lifetime: 50)
            try withCache(size: 200) { new in
                new.takeOver(from: old, now: 1100)
                #expect(lookup(new, id(1), now: 1101) == [1])
                #expect(lookup(new, id(2), now: 1101) == nil)
                // The remaining lifetime is kept.
                #expect(lookup(new, id(1), now: 1500) == nil)
            }
        }
    }

    @Test func noCacheWithoutTLSOrWithSizeZero() throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(tlsConfig(" tune.ssl.cachesize 0")), slots: 1)
        defer {
            segment.unmap()
            Posix.close(fd)
        }
        #expect(segment.sessionCache == nil && segment.ticketKeys != nil)
        let plain = try parsed("defaults\n timeout client 1s\n timeout connect 1s\n timeout server 1s\nlisten l\n bind :0\n server s 127.0.0.1:1\n")
        let (fd2, segment2) = try SharedSegment.create(configuration: plain, slots: 1)
        defer {
            segment2.unmap()
            Posix.close(fd2)
        }
        #expect(segment2.sessionCache == nil)
    }
}

@Suite struct TicketKeyRingTests {
    private func withRing(_ body: (TicketKeyRing, SharedSegment) throws -> Void) throws {
        let (fd, segment) = try SharedSegment.create(configuration: parsed(tlsConfig()), slots: 1)
        defer {
            segment.unmap()
            Posix.close(fd)
        }
        try body(try #require(segment.ticketKeys), segment)
    }

    private func newest(_ ring: TicketKeyRing) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: TicketKeyRing.keySize)
        return out.withUnsafeMutableBytes { ring.copyNewest(into: $0.baseAddress!) } ? out : nil
    }

    private func find(_ ring: TicketKeyRing, _ key: [UInt8]) -> Int? {
        var out = [UInt8](repeating: 0, count: TicketKeyRing.keySize)
        let age = key.withUnsafeBytes { name in out.withUnsafeMutableBytes { ring.copyKey(named: name.baseAddress!, into: $0.baseAddress!) } }
        if age != nil { #expect(out == key) }
        return age
    }

    @Test func theNewestEncryptsAndTheTwoBeforeItDecrypt() throws {
        try withRing { ring, _ in
            #expect(ring.published == 0 && newest(ring) == nil && find(ring, key(1)) == nil)
            ring.publish(key(1), now: 10)
            #expect(newest(ring) == key(1) && find(ring, key(1)) == 0 && ring.rotatedAt == 10)
            for n in 2...5 { ring.publish(key(UInt8(n)), now: Int64(n) * 10) }
            #expect(newest(ring) == key(5))
            #expect(find(ring, key(5)) == 0 && find(ring, key(4)) == 1 && find(ring, key(3)) == 2)
            // Rotated out: its tickets no longer decrypt.
            #expect(find(ring, key(2)) == nil && find(ring, key(1)) == nil)
            #expect(ring.published == 5 && ring.rotatedAt == 50)
        }
    }

    @Test func aReloadKeepsTheKeys() throws {
        try withRing { old, oldSegment in
            for n in 1...4 { old.publish(key(UInt8(n)), now: Int64(n)) }
            try withRing { new, newSegment in
                newSegment.takeOver(from: oldSegment)
                #expect(new.published == 4 && new.rotatedAt == 4 && newest(new) == key(4))
                #expect(find(new, key(3)) == 1 && find(new, key(2)) == 2 && find(new, key(1)) == nil)
                new.publish(key(9), now: 9)
                #expect(find(new, key(9)) == 0 && find(new, key(3)) == 2)
            }
        }
    }
}
