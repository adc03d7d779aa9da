import COpenSSL
import CShims
import Glibc
import WeirConfig

// Client certificates (mTLS): `bind … verify none|optional|required ca-file
// FILE [crl-file FILE] [ca-ignore-err …] [crt-ignore-err …]`, and what the
// ssl_c_* and ssl_f_* fetches read of a connection's certificates.

extension TLSFrontend {
    /// The verify mode, callback and ignore lists, the CA file (trusted, and
    /// its names sent in the certificate request), the CA verify file
    /// (trusted, its names not sent) and the CRL file of one
    /// context: the bind line's, or a crt-list line's own `[verify …
    /// ca-file … crl-file …]` (SNI switches the connection to it).
    static func configureClientVerification(_ ctx: OpaquePointer, _ settings: BindTLS.ClientVerification,
                                            at location: SourceLocation) throws(TLSConfigError) {
        if let ca = settings.caFile {
            try readable(ca, what: "CA file")
            ERR_clear_error()
            guard SSL_CTX_load_verify_locations(ctx, ca.path, nil) == 1 else {
                throw TLSConfigError("bind: unable to load CA file '\(ca.path)': \(TLSErrors.pop())", at: ca.location)
            }
            if let names = SSL_load_client_CA_file(ca.path) { SSL_CTX_set_client_CA_list(ctx, names) }
            ERR_clear_error()
        }
        if let ca = settings.caVerifyFile {
            try readable(ca, what: "CA verify file")
            ERR_clear_error()
            guard SSL_CTX_load_verify_locations(ctx, ca.path, nil) == 1 else {
                throw TLSConfigError("bind: unable to load CA verify file '\(ca.path)': \(TLSErrors.pop())", at: ca.location)
            }
        }
        if let crl = settings.crlFile {
            try readable(crl, what: "CRL file")
            ERR_clear_error()
            guard let store = SSL_CTX_get_cert_store(ctx), let lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file()),
                  X509_load_crl_file(lookup, crl.path, X509_FILETYPE_PEM) > 0 else {
                throw TLSConfigError("bind: unable to load CRL file '\(crl.path)': \(TLSErrors.pop())", at: crl.location)
            }
            X509_STORE_set_flags(store, UInt(X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL))
        }
        let mode: Int32 = switch settings.mode {
        case .none: 0
        case .optional: 1
        case .required: 2
        }
        let ca = bits(settings.caIgnoreErrors)
        let crt = bits(settings.crtIgnoreErrors)
        let ok = ca.withUnsafeBufferPointer { caBits in
            crt.withUnsafeBufferPointer { crtBits in
                CShims_SSL_CTX_set_client_verify(ctx, mode, caBits.baseAddress, settings.caIgnoreErrors.all ? 1 : 0,
                                                 crtBits.baseAddress, settings.crtIgnoreErrors.all ? 1 : 0)
            }
        }
        guard ok == 1 else { throw TLSConfigError("bind: cannot set up client certificate verification", at: location) }
    }

    /// An open(2) first: OpenSSL's own message for a missing file is vague.
    private static func readable(_ file: BindTLS.File, what: String) throws(TLSConfigError) {
        let fd = open(file.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw TLSConfigError("bind: cannot read \(what) '\(file.path)': \(String(cString: strerror(errno)))", at: file.location)
        }
        Glibc.close(fd)
    }

    private static func bits(_ errors: BindTLS.IgnoredErrors) -> [UInt64] {
        var words: [UInt64] = [0, 0]
        for id in errors.ids where id > 0 && id < 128 { words[id >> 6] |= 1 << UInt64(id & 63) }
        return words
    }
}

extension TLSConnection {
    /// What the verify callback saw of the client's certificate on this
    /// connection (nothing on a resumed session, as in HAProxy).
    public struct ClientVerification: Sendable {
        /// The client presented a certificate (`ssl_fc_has_crt`).
        public var presented: Bool
        /// The first error of the certificate itself (`ssl_c_err`), 0: none.
        public var error: Int
        /// The first error above it in the chain (`ssl_c_ca_err`) and its depth.
        public var caError: Int
        public var caErrorDepth: Int
        /// Why the handshake was refused, when a verify error was not ignored.
        public var caFailed: Bool
        public var certificateFailed: Bool

        init(_ state: UInt64) {
            presented = state & UInt64(CShims_TLS_VERIFY_DONE) != 0
            caFailed = state & UInt64(CShims_TLS_VERIFY_CA_FAILED) != 0
            certificateFailed = state & UInt64(CShims_TLS_VERIFY_CRT_FAILED) != 0
            error = Int(state >> 16 & 0xffff)
            caError = Int(state >> 32 & 0xffff)
            caErrorDepth = Int(state >> 48 & 0x7fff)
        }
    }

    /// The handshake resumed a session (`ssl_fc_is_resumed`).
    @inline(__always)
    public static func sessionReused(_ ssl: OpaquePointer) -> Bool { SSL_session_reused(ssl) == 1 }

    @inline(__always)
    public static func clientVerification(_ ssl: OpaquePointer) -> ClientVerification {
        ClientVerification(CShims_SSL_client_verify_state(ssl))
    }

    /// SSL_get_verify_result (`ssl_c_verify`): 0 when the certificate
    /// verified or none was presented, else the X509 error that was let through.
    @inline(__always)
    public static func verifyResult(_ ssl: OpaquePointer) -> Int { Int(SSL_get_verify_result(ssl)) }

    /// The reason a handshake that failed gives in the log when the client's
    /// certificate was refused, as HAProxy words it; nil for any other failure.
    public static func verificationFailure(_ ssl: OpaquePointer) -> String? {
        let state = clientVerification(ssl)
        func detail(_ error: Int) -> String {
            guard error != 0, let text = X509_verify_cert_error_string(error) else { return "" }
            return " (\(String(cString: text)))"
        }
        if state.caFailed { return "SSL client CA chain cannot be verified" + detail(state.caError) }
        if state.certificateFailed { return "SSL client certificate not trusted" + detail(state.error) }
        return nil
    }

    /// The client's certificate (`client`, also from a resumed session) or
    /// the one the frontend presented; nil when there is none.
    @inline(__always)
    public static func certificate(_ ssl: OpaquePointer, client: Bool) -> OpaquePointer? {
        CShims_SSL_certificate(ssl, client ? 1 : 0)
    }

    /// The certificate fields that are written out as bytes.
    public enum CertificateBytes {
        /// Binary: the serial number, the SHA-1 of the DER form, the DER form.
        case serial, sha1, der
        /// YYMMDDhhmmss[Z].
        case notBefore, notAfter
    }

    /// A field of a certificate, written at `out`: its length, nil when the
    /// field is absent or does not fit in `capacity`.
    public static func write(_ field: CertificateBytes, of certificate: OpaquePointer, to out: UnsafeMutableRawPointer,
                             capacity: Int) -> Int? {
        let bytes = out.assumingMemoryBound(to: UInt8.self)
        let chars = out.assumingMemoryBound(to: CChar.self)
        let n = switch field {
        case .serial: CShims_X509_serial(certificate, bytes, capacity)
        case .sha1: CShims_X509_sha1(certificate, bytes, capacity)
        case .der: CShims_X509_der(certificate, bytes, capacity)
        case .notBefore: CShims_X509_time(certificate, 0, chars, capacity)
        case .notAfter: CShims_X509_time(certificate, 1, chars, capacity)
        }
        return n >= 0 ? n : nil
    }

    /// The subject's (or issuer's) DN, whole ("/C=FR/CN=name", or RFC 2253),
    /// or the `occurrence`-th value of `entry` (a C string like "CN").
    public static func writeDistinguishedName(of certificate: OpaquePointer, issuer: Bool,
                                              entry: UnsafePointer<CChar>?, occurrence: Int, rfc2253: Bool,
                                              to out: UnsafeMutableRawPointer, capacity: Int) -> Int? {
        let n = CShims_X509_dn(certificate, issuer ? 1 : 0, entry, Int32(clamping: occurrence), rfc2253 ? 1 : 0,
                               out.assumingMemoryBound(to: CChar.self), capacity)
        return n >= 0 ? n : nil
    }

    /// 1, 2 or 3 (`ssl_c_version`).
    @inline(__always)
    public static func version(of certificate: OpaquePointer) -> Int { CShims_X509_version(certificate) }

    /// OpenSSL's short name of the signature algorithm ("RSA-SHA256", `ssl_c_sig_alg`).
    @inline(__always)
    public static func signatureAlgorithm(of certificate: OpaquePointer) -> UnsafePointer<CChar>? {
        CShims_X509_signature_algorithm(certificate)
    }

    /// OpenSSL's short name of the key's algorithm ("rsaEncryption", `ssl_c_key_alg`).
    @inline(__always)
    public static func keyAlgorithm(of certificate: OpaquePointer) -> UnsafePointer<CChar>? {
        CShims_X509_key_algorithm(certificate)
    }
}
