import COpenSSL
import Glibc
import WeirSystem

/// What a step of a non-blocking handshake did.
public enum TLSHandshake: Equatable, Sendable {
    case done
    /// Waiting for the socket to become readable.
    case wantRead
    /// Waiting for the socket to become writable.
    case wantWrite
    /// The peer closed before finishing.
    case closed
    case failed(String)
}

/// Operations on a server-side `SSL *` whose descriptor is non-blocking.
/// Errors other than EAGAIN are reported as values or `Errno`, never thrown
/// from OpenSSL; each call leaves OpenSSL's error queue empty.
public enum TLSConnection {
    /// SSL_accept: one step of the handshake.
    public static func handshake(_ ssl: OpaquePointer) -> TLSHandshake { step(ssl, SSL_accept(ssl)) }

    /// What a handshake call (SSL_accept, SSL_connect) that returned `r` did.
    static func step(_ ssl: OpaquePointer, _ r: Int32) -> TLSHandshake {
        if r == 1 { return .done }
        let error = SSL_get_error(ssl, r)
        switch error {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN:
            ERR_clear_error()
            return .closed
        case SSL_ERROR_SYSCALL:
            let code = ERR_peek_error()
            if code == 0 {
                let e = errno
                ERR_clear_error()
                return r == 0 || e == 0 || e == ECONNRESET ? .closed : .failed(String(cString: strerror(e)))
            }
            return .failed(TLSErrors.pop())
        default:
            return .failed(TLSErrors.pop())
        }
    }

    /// SSL_read: `.wouldBlock` only when OpenSSL holds no more decrypted
    /// bytes and the socket is empty; `.processed(0)` at end-of-file.
    @inline(__always)
    public static func read(_ ssl: OpaquePointer, into buffer: UnsafeMutableRawPointer, count: Int) throws(Errno) -> IOResult {
        let r = SSL_read(ssl, buffer, Int32(clamping: count))
        if r > 0 { return .processed(Int(r)) }
        return try outcome(ssl, r)
    }

    /// SSL_write: partial writes are enabled, so `.processed(n)` may be short.
    /// After `.wouldBlock`, the same bytes (possibly moved) must be written again.
    @inline(__always)
    public static func write(_ ssl: OpaquePointer, from buffer: UnsafeRawPointer, count: Int) throws(Errno) -> IOResult {
        let r = SSL_write(ssl, buffer, Int32(clamping: count))
        if r > 0 { return .processed(Int(r)) }
        switch try outcome(ssl, r) {
        case .processed: throw Errno(EPIPE)
        case .wouldBlock: return .wouldBlock
        }
    }

    private static func outcome(_ ssl: OpaquePointer, _ r: Int32) throws(Errno) -> IOResult {
        switch SSL_get_error(ssl, r) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .wouldBlock
        case SSL_ERROR_ZERO_RETURN:
            return .processed(0)
        case SSL_ERROR_SYSCALL:
            let e = errno
            ERR_clear_error()
            if r == 0 || e == 0 { return .processed(0) }
            throw Errno(e)
        default:
            ERR_clear_error()
            throw Errno(EPROTO)
        }
    }

    /// Sends close_notify, best effort (never waits for the peer's).
    public static func shutdown(_ ssl: OpaquePointer) {
        if SSL_is_init_finished(ssl) == 1 { _ = SSL_shutdown(ssl) }
        ERR_clear_error()
    }

    /// SSL_free.
    public static func free(_ ssl: OpaquePointer) { SSL_free(ssl) }

    // MARK: - What the fetches read

    /// The SNI name the client sent (`ssl_fc_sni`), or nil.
    public static func serverName(_ ssl: OpaquePointer) -> UnsafePointer<CChar>? {
        SSL_get_servername(ssl, Int32(TLSEXT_NAMETYPE_host_name))
    }

    /// "TLSv1.3", … (`ssl_fc_protocol`).
    public static func protocolName(_ ssl: OpaquePointer) -> UnsafePointer<CChar>? { SSL_get_version(ssl) }

    /// OpenSSL's name of the negotiated cipher (`ssl_fc_cipher`).
    public static func cipherName(_ ssl: OpaquePointer) -> UnsafePointer<CChar>? {
        guard let cipher = SSL_get_current_cipher(ssl) else { return nil }
        return SSL_CIPHER_get_name(cipher)
    }

    /// The ALPN protocol negotiated (`ssl_fc_alpn`), empty when none.
    public static func alpn(_ ssl: OpaquePointer) -> UnsafeRawBufferPointer {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: data, count: Int(length))
    }
}
