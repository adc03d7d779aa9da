import COpenSSL
import CShims
import Glibc
import WeirConfig
import WeirShared
import WeirSystem

/// Where a process's TLS contexts keep what resumption needs: its
/// generation's shared memory (the master's ticket keys, the session cache)
/// and `tune.ssl.lifetime`.
public struct TLSSessionStore: @unchecked Sendable {
    public var ticketKeys: TicketKeyRing?
    public var sessionCache: SessionCache?
    /// Seconds a session may be resumed.
    public var lifetime: Int

    public init(ticketKeys: TicketKeyRing?, sessionCache: SessionCache?, lifetime: Int) {
        self.ticketKeys = ticketKeys
        self.sessionCache = sessionCache
        self.lifetime = lifetime
    }

    public init(segment: SharedSegment, configuration: Configuration) {
        self.init(ticketKeys: segment.ticketKeys, sessionCache: segment.sessionCache,
                  lifetime: configuration.global.sslLifetime)
    }
}

/// The master's ticket keys: made with RAND_bytes, a new one every
/// `tune.ssl.lifetime` (at least a minute apart). With the two before it
/// still decrypting, a ticket stays readable for at least as long as the
/// session it carries may be resumed, and no key lives longer than three
/// lifetimes.
public enum TLSTicketKeys {
    /// A fresh 80-byte key: a random name, AES-256 key and HMAC key.
    public static func generate() -> [UInt8] {
        var key = [UInt8](repeating: 0, count: TicketKeyRing.keySize)
        let ok = key.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
        precondition(ok == 1, "RAND_bytes failed: no entropy for TLS ticket keys")
        return key
    }

    /// Milliseconds between two keys for `lifetime` seconds.
    public static func interval(lifetime: Int) -> Int64 { Int64(max(60, lifetime)) * 1000 }

    /// Whether `ring` needs a key now: none yet, or the newest is `interval` old.
    public static func isDue(_ ring: TicketKeyRing, lifetime: Int, now: Int64) -> Bool {
        ring.published == 0 || now - ring.rotatedAt >= interval(lifetime: lifetime)
    }

    /// When `ring`'s next key is due (monotonic ms).
    public static func nextRotation(_ ring: TicketKeyRing, lifetime: Int) -> Int64 {
        ring.rotatedAt + interval(lifetime: lifetime)
    }
}

/// Session resumption for the contexts of one `bind … ssl` line: the
/// session ID context, the ticket keys (the file's, or the master's ring),
/// the shared session cache and the session lifetime. The contexts point at
/// it (ex_data 0); it outlives them.
final class TLSResumption: @unchecked Sendable {
    /// SHA-256 of the frontend's name and the line's TLS settings: a session
    /// resumes only on a bind configured alike, in any worker, after a
    /// reload, and on another weir with the same configuration.
    let sessionIDContext: [UInt8]
    /// `tls-ticket-keys FILE`: its path and live keys (`set ssl tls-key` adds one).
    let fileKeysPath: String?
    var fileKeys: TicketKeyFile?
    let ring: TicketKeyRing?
    let cache: SessionCache?
    let tickets: Bool
    /// Seconds.
    let lifetime: Int
    /// One encoded session, for the cache callbacks (a worker has one thread).
    let scratch: UnsafeMutableRawPointer

    init(_ settings: BindTLS, frontend: String, store: TLSSessionStore?) throws(TLSConfigError) {
        if let file = settings.ticketKeys {
            switch TicketKeyFile.load(file.path) {
            case .success(let keys): fileKeys = keys
            case .failure(let error): throw TLSConfigError("bind: \(error)", at: file.location)
            }
        } else {
            fileKeys = nil
        }
        fileKeysPath = settings.ticketKeys?.path
        sessionIDContext = TLSResumption.context(frontend: frontend, settings: settings)
        ring = store?.ticketKeys
        cache = store?.sessionCache
        tickets = !settings.noTLSTickets
        lifetime = store?.lifetime ?? GlobalSettings().sslLifetime
        scratch = UnsafeMutableRawPointer.allocate(byteCount: SessionCache.maxSessionBytes, alignment: 16)
    }

    deinit { scratch.deallocate() }

    /// Sets the context up: session ID context, lifetime, ticket keys, cache.
    func install(on ctx: OpaquePointer) {
        _ = SSL_CTX_set_ex_data(ctx, 0, Unmanaged.passUnretained(self).toOpaque())
        _ = sessionIDContext.withUnsafeBufferPointer {
            SSL_CTX_set_session_id_context(ctx, $0.baseAddress, UInt32($0.count))
        }
        _ = SSL_CTX_set_timeout(ctx, lifetime)
        if tickets && (fileKeys != nil || ring != nil) {
            _ = SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tlsTicketKeyCallback)
        }
        CShims_SSL_CTX_set_external_session_cache(ctx, cache == nil ? 0 : 1)
        // No tickets and no cache: a TLS 1.3 (stateful) ticket could never be redeemed.
        if !tickets && cache == nil { _ = SSL_CTX_set_num_tickets(ctx, 0) }
        if cache != nil {
            SSL_CTX_sess_set_new_cb(ctx, tlsNewSessionCallback)
            SSL_CTX_sess_set_get_cb(ctx, tlsGetSessionCallback)
            SSL_CTX_sess_set_remove_cb(ctx, tlsRemoveSessionCallback)
        }
    }

    /// The key that encrypts new tickets, copied to `out` (80 bytes); its size, nil when there is none.
    @inline(__always)
    func copyEncryptionKey(into out: UnsafeMutableRawPointer) -> Int? {
        if let fileKeys {
            let size = fileKeys.keySize
            fileKeys.keys.withUnsafeBytes { out.copyMemory(from: $0.baseAddress! + TicketKeyFile.encryptionIndex * size, byteCount: size) }
            return size
        }
        return ring?.copyNewest(into: out) == true ? TicketKeyRing.keySize : nil
    }

    /// The live key named by the 16 bytes at `name`, copied to `out`; its
    /// size and whether it is the encrypting one, nil when none has the name.
    @inline(__always)
    func copyKey(named name: UnsafeRawPointer, into out: UnsafeMutableRawPointer) -> (size: Int, current: Bool)? {
        if let fileKeys {
            let size = fileKeys.keySize
            return fileKeys.keys.withUnsafeBytes { keys -> (Int, Bool)? in
                for index in 0..<TicketKeyFile.liveKeys where memcmp(keys.baseAddress! + index * size, name, 16) == 0 {
                    out.copyMemory(from: keys.baseAddress! + index * size, byteCount: size)
                    return (size, index == TicketKeyFile.encryptionIndex)
                }
                return nil
            }
        }
        guard let age = ring?.copyKey(named: name, into: out) else { return nil }
        return (TicketKeyRing.keySize, age == 0)
    }

    /// Stores a new session in the shared cache (too large: not cached).
    func store(_ session: OpaquePointer) {
        guard let cache else { return }
        var idLength: UInt32 = 0
        guard let id = SSL_SESSION_get_id(session, &idLength), idLength > 0 else { return }
        let length = Int(i2d_SSL_SESSION(session, nil))
        guard length > 0, length <= SessionCache.maxSessionBytes else { return }
        var cursor: UnsafeMutablePointer<UInt8>? = scratch.assumingMemoryBound(to: UInt8.self)
        guard Int(i2d_SSL_SESSION(session, &cursor)) == length else { return }
        cache.store(id: UnsafeRawBufferPointer(start: id, count: Int(idLength)),
                    session: UnsafeRawBufferPointer(start: scratch, count: length),
                    now: Clock.monotonicMilliseconds(), lifetime: Int64(lifetime) * 1000)
    }

    /// The cached session stored under `id`, decoded (the caller owns it), or nil.
    func lookup(_ id: UnsafeRawBufferPointer) -> OpaquePointer? {
        guard let cache, let length = cache.lookup(id: id, into: scratch, now: Clock.monotonicMilliseconds()) else { return nil }
        var cursor: UnsafePointer<UInt8>? = UnsafePointer(scratch.assumingMemoryBound(to: UInt8.self))
        return d2i_SSL_SESSION(nil, &cursor, length)
    }

    func remove(_ session: OpaquePointer) {
        guard let cache else { return }
        var idLength: UInt32 = 0
        guard let id = SSL_SESSION_get_id(session, &idLength), idLength > 0 else { return }
        cache.remove(id: UnsafeRawBufferPointer(start: id, count: Int(idLength)))
    }

    /// SHA-256 over the frontend's name and every setting of the line, but
    /// not where the line is (an unrelated edit moving it keeps the context).
    static func context(frontend: String, settings: BindTLS) -> [UInt8] {
        let text = Array(("weir\0" + frontend + "\0" + describe(settings)).utf8)
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var size: UInt32 = 0
        let ok = text.withUnsafeBytes { input in
            digest.withUnsafeMutableBufferPointer { EVP_Digest(input.baseAddress, input.count, $0.baseAddress, &size, EVP_sha256(), nil) }
        }
        precondition(ok == 1 && size == 32, "SHA-256 failed")
        return Array(digest.prefix(Int(size)))
    }

    /// Every stored value of `value`, recursively, without source locations;
    /// the same text in every process (a set's or dictionary's elements sorted,
    /// since their order depends on the process's hash seed).
    static func describe(_ value: Any) -> String {
        if value is SourceLocation { return "" }
        let mirror = Mirror(reflecting: value)
        if mirror.children.isEmpty { return String(describing: value) }
        var parts = mirror.children.map { ($0.label ?? "") + "=" + describe($0.value) }
        if mirror.displayStyle == .set || mirror.displayStyle == .dictionary { parts.sort() }
        return "(" + parts.joined(separator: ",") + ")"
    }

    /// The object a context's callbacks work for.
    @inline(__always)
    static func of(_ ctx: OpaquePointer?) -> TLSResumption? {
        guard let ctx, let raw = SSL_CTX_get_ex_data(ctx, 0) else { return nil }
        return Unmanaged<TLSResumption>.fromOpaque(raw).takeUnretainedValue()
    }
}

/// Sets up the cipher and MAC of one ticket: encrypting, with the key that
/// encrypts (its name goes in `name`); decrypting, with the key `name`
/// names, if it is still live (2: renew the ticket, its key is an older one).
private func tlsTicketKeyCallback(_ ssl: OpaquePointer?, _ name: UnsafeMutablePointer<UInt8>?,
                                  _ iv: UnsafeMutablePointer<UInt8>?, _ cipher: OpaquePointer?, _ mac: OpaquePointer?,
                                  _ encrypt: Int32) -> Int32 {
    guard let ssl, let name, let iv, let resumption = TLSResumption.of(SSL_get_SSL_CTX(ssl)) else { return -1 }
    return withUnsafeTemporaryAllocation(byteCount: TicketKeyRing.keySize, alignment: 16) { buffer -> Int32 in
        let key = buffer.baseAddress!
        let size: Int
        var current = true
        if encrypt == 1 {
            guard let found = resumption.copyEncryptionKey(into: key) else { return 0 }
            size = found
            UnsafeMutableRawPointer(name).copyMemory(from: key, byteCount: 16)
        } else {
            guard let found = resumption.copyKey(named: name, into: key) else { return 0 }
            (size, current) = (found.size, found.current)
        }
        let half = (size - 16) / 2
        let aes = (key + 16).assumingMemoryBound(to: UInt8.self)
        let hmac = (key + 16 + half).assumingMemoryBound(to: UInt8.self)
        guard CShims_ticket_cipher_init(aes, hmac, Int32(half), iv, cipher, mac, encrypt) == 1 else { return -1 }
        return current ? 1 : 2
    }
}

/// A new session: into the shared cache. TLS 1.3 with tickets needs no
/// cache (the ticket carries the session; its ID is a dummy).
private func tlsNewSessionCallback(_ ssl: OpaquePointer?, _ session: OpaquePointer?) -> Int32 {
    guard let ssl, let session, let resumption = TLSResumption.of(SSL_get_SSL_CTX(ssl)) else { return 0 }
    if SSL_version(ssl) == TLS1_3_VERSION && CShims_SSL_tickets_enabled(ssl) == 1 { return 0 }
    resumption.store(session)
    // 0: OpenSSL keeps no reference for us.
    return 0
}

private func tlsGetSessionCallback(_ ssl: OpaquePointer?, _ id: UnsafePointer<UInt8>?, _ length: Int32,
                                   _ copy: UnsafeMutablePointer<Int32>?) -> OpaquePointer? {
    copy?.pointee = 0
    guard let ssl, let id, length > 0, let resumption = TLSResumption.of(SSL_get_SSL_CTX(ssl)) else { return nil }
    return resumption.lookup(UnsafeRawBufferPointer(start: id, count: Int(length)))
}

private func tlsRemoveSessionCallback(_ ctx: OpaquePointer?, _ session: OpaquePointer?) {
    guard let session, let resumption = TLSResumption.of(ctx) else { return }
    resumption.remove(session)
}
