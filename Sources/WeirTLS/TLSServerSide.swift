import COpenSSL
import CShims
import Glibc
import WeirConfig

/// TLS towards one server (`server … ssl`, or its checks with `check-ssl`):
/// one OpenSSL client context per server, as HAProxy builds, and the last
/// session the server gave, offered again on the next connection (unless
/// `no-ssl-reuse`; with `no-tls-tickets`, only a session the server keeps
/// by its ID resumes). One per server per process: each worker (and the
/// master's health checker) resumes its own sessions.
public final class TLSServerContext: @unchecked Sendable {
    let ctx: OpaquePointer
    /// `verify required`: the chain is checked against `ca-file`, and the
    /// name against the SNI sent, else `verifyhost`.
    let verifies: Bool
    let verifyHost: String?
    let reusesSessions: Bool
    /// The last resumable session, DER-encoded (a live `SSL_SESSION` would
    /// be marked unresumable when a connection using it is freed without a
    /// close_notify, as pooled connections are), and the SNI it was made with.
    var session: [UInt8] = []
    var sessionName: String?

    /// Reads the CA file and client certificate the settings name and
    /// builds the context. `label` names the server in messages (`be/s1`);
    /// `http`: the server speaks HTTP/1 only through Weir, so `h2` is not offered.
    public init(_ settings: ServerTLS, label: String, at location: SourceLocation, http: Bool) throws(TLSConfigError) {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw TLSConfigError("server '\(label)': cannot create a TLS context: \(TLSErrors.pop())", at: location)
        }
        do {
            try TLSServerContext.configure(ctx, settings, label: label, at: location, http: http)
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        self.ctx = ctx
        verifies = settings.verifies
        verifyHost = settings.verifyHost
        reusesSessions = settings.reuseSessions
        SSL_CTX_set_ex_data(ctx, 0, Unmanaged.passUnretained(self).toOpaque())
        if reusesSessions { SSL_CTX_sess_set_new_cb(ctx, tlsNewSessionCallback) }
    }

    deinit { SSL_CTX_free(ctx) }

    private static func configure(_ ctx: OpaquePointer, _ settings: ServerTLS, label: String, at location: SourceLocation,
                                  http: Bool) throws(TLSConfigError) {
        let prefix = "server '\(label)'"
        CShims_SSL_CTX_set_client_defaults(ctx, settings.tickets == false ? 0 : 1)
        _ = CShims_SSL_CTX_set_min_proto_version(ctx, TLSFrontend.protocolVersion(settings.minVersion ?? .tls12))
        if let max = settings.maxVersion { _ = CShims_SSL_CTX_set_max_proto_version(ctx, TLSFrontend.protocolVersion(max)) }
        if let ciphers = settings.ciphers, SSL_CTX_set_cipher_list(ctx, ciphers) != 1 {
            ERR_clear_error()
            throw TLSConfigError("\(prefix): no usable cipher in 'ciphers \(ciphers)'", at: location)
        }
        if let suites = settings.ciphersuites, SSL_CTX_set_ciphersuites(ctx, suites) != 1 {
            ERR_clear_error()
            throw TLSConfigError("\(prefix): no usable cipher suite in 'ciphersuites \(suites)'", at: location)
        }
        SSL_CTX_set_verify(ctx, settings.verifies ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        if let ca = settings.caFile {
            if ca.path == "@system-ca" {
                guard SSL_CTX_set_default_verify_paths(ctx) == 1 else {
                    throw TLSConfigError("\(prefix): cannot load the system's CA certificates (\(TLSErrors.pop()))",
                                         at: ca.location)
                }
            } else {
                if let reason = unreadable(ca.path) {
                    throw TLSConfigError("\(prefix): cannot read CA file '\(ca.path)': \(reason)", at: ca.location)
                }
                ERR_clear_error()
                guard SSL_CTX_load_verify_locations(ctx, ca.path, nil) == 1 else {
                    throw TLSConfigError("\(prefix): '\(ca.path)' holds no valid PEM CA certificate (\(TLSErrors.pop()))",
                                         at: ca.location)
                }
            }
        }
        if let crt = settings.certificate { try useCertificate(ctx, crt, prefix: prefix) }
        var wire: [UInt8] = []
        for name in settings.alpn where !(http && TLSFrontend.unsupportedHTTPProtocols.contains(name)) {
            wire.append(UInt8(name.utf8.count))
            wire.append(contentsOf: name.utf8)
        }
        // SSL_CTX_set_alpn_protos returns 0 on success.
        if !wire.isEmpty, SSL_CTX_set_alpn_protos(ctx, wire, UInt32(wire.count)) != 0 {
            ERR_clear_error()
            throw TLSConfigError("\(prefix): cannot use 'alpn \(settings.alpn.joined(separator: ","))'", at: location)
        }
    }

    /// `crt FILE`: the certificate chain and its key, in the file or in `FILE.key`.
    private static func useCertificate(_ ctx: OpaquePointer, _ crt: ServerFile, prefix: String) throws(TLSConfigError) {
        let file = crt.path
        if let reason = unreadable(file) {
            throw TLSConfigError("\(prefix): cannot read certificate '\(file)': \(reason)", at: crt.location)
        }
        ERR_clear_error()
        guard SSL_CTX_use_certificate_chain_file(ctx, file) == 1 else {
            throw TLSConfigError("\(prefix): '\(file)' holds no valid PEM certificate (\(TLSErrors.pop()))", at: crt.location)
        }
        var keyFile = file
        if SSL_CTX_use_PrivateKey_file(ctx, file, SSL_FILETYPE_PEM) != 1 {
            ERR_clear_error()
            keyFile = file + ".key"
            guard access(keyFile, F_OK) == 0 else {
                throw TLSConfigError("\(prefix): no private key for '\(file)' in the file nor in '\(keyFile)'",
                                     at: crt.location)
            }
            if let reason = unreadable(keyFile) {
                throw TLSConfigError("\(prefix): cannot read private key '\(keyFile)': \(reason)", at: crt.location)
            }
            guard SSL_CTX_use_PrivateKey_file(ctx, keyFile, SSL_FILETYPE_PEM) == 1 else {
                throw TLSConfigError("\(prefix): '\(keyFile)' holds no private key matching '\(file)' (\(TLSErrors.pop()))",
                                     at: crt.location)
            }
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            ERR_clear_error()
            throw TLSConfigError("\(prefix): the private key in '\(keyFile)' does not match the certificate in '\(file)'",
                                 at: crt.location)
        }
    }

    /// Why `path` cannot be opened for reading, nil when it can.
    private static func unreadable(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        Glibc.close(fd)
        return nil
    }

    /// A new client connection on the connected, non-blocking `fd`, sending
    /// `serverName` as SNI (nil or empty: none) and offering the last
    /// session made with the same name; nil when OpenSSL is out of memory.
    public func connection(fd: Int32, serverName: String?) -> OpaquePointer? {
        guard let ssl = SSL_new(ctx) else { return nil }
        guard SSL_set_fd(ssl, fd) == 1 else {
            SSL_free(ssl)
            ERR_clear_error()
            return nil
        }
        SSL_set_connect_state(ssl)
        let name = serverName.flatMap { $0.isEmpty ? nil : $0 }
        if let name { _ = CShims_SSL_set_tlsext_host_name(ssl, name) }
        // HAProxy checks the certificate's names against the SNI sent, else
        // against `verifyhost`, else not at all.
        if verifies, let host = name ?? verifyHost {
            SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
            _ = SSL_set1_host(ssl, host)
        }
        if reusesSessions && !session.isEmpty && sessionName == name {
            session.withUnsafeBufferPointer { der in
                var cursor: UnsafePointer<UInt8>? = der.baseAddress
                if let saved = d2i_SSL_SESSION(nil, &cursor, der.count) {
                    _ = SSL_set_session(ssl, saved)
                    SSL_SESSION_free(saved)
                }
            }
        }
        ERR_clear_error()
        return ssl
    }

    /// Keeps `saved` as the session to offer next.
    fileprivate func keep(_ saved: OpaquePointer, name: String?) {
        guard SSL_SESSION_is_resumable(saved) == 1 else { return }
        let length = i2d_SSL_SESSION(saved, nil)
        guard length > 0 else { return }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_SSL_SESSION(saved, &cursor)
        }
        guard written == length else { return }
        session = der
        sessionName = name
    }

    /// Forgets the kept session (a handshake that offered it failed).
    public func forgetSession() {
        session = []
        sessionName = nil
    }
}

/// OpenSSL hands every new session here (at the end of a TLS 1.2 handshake,
/// with each TLS 1.3 ticket); it stays OpenSSL's to free (returns 0).
private func tlsNewSessionCallback(_ ssl: OpaquePointer?, _ saved: OpaquePointer?) -> Int32 {
    guard let ssl, let saved, let ctx = SSL_get_SSL_CTX(ssl), let me = SSL_CTX_get_ex_data(ctx, 0) else { return 0 }
    let server = Unmanaged<TLSServerContext>.fromOpaque(me).takeUnretainedValue()
    let name = SSL_get_servername(ssl, Int32(TLSEXT_NAMETYPE_host_name)).map { String(cString: $0) }
    server.keep(saved, name: name)
    return 0
}

extension TLSSetup {
    /// Every server's TLS problem (unreadable CA file or certificate, bad
    /// PEM, mismatched key, unusable ciphers), as configuration errors.
    public static func checkServers(_ configuration: Configuration) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        for backend in configuration.backends {
            for server in backend.servers where server.usesTLS {
                do {
                    _ = try TLSServerContext(server.tls, label: "\(backend.name)/\(server.name)",
                                             at: server.tls.location ?? server.location, http: backend.mode == .http)
                } catch {
                    diagnostics.append(error.diagnostic)
                }
            }
        }
        return diagnostics
    }

    /// For each backend, for each of its servers, its TLS context (nil:
    /// neither its traffic nor its checks use TLS; with `traffic`, its
    /// traffic does not).
    public static func buildServers(_ configuration: Configuration, traffic: Bool) throws(TLSConfigError)
        -> [[TLSServerContext?]] {
        var result: [[TLSServerContext?]] = []
        for backend in configuration.backends {
            var row: [TLSServerContext?] = []
            for server in backend.servers {
                guard traffic ? server.tls.enabled : server.usesTLS else {
                    row.append(nil)
                    continue
                }
                row.append(try TLSServerContext(server.tls, label: "\(backend.name)/\(server.name)",
                                                at: server.tls.location ?? server.location, http: backend.mode == .http))
            }
            result.append(row)
        }
        return result
    }
}

extension TLSConnection {
    /// SSL_connect: one step of a client handshake. A failed verification
    /// says why (`certificate verify failed: unable to get local issuer certificate`).
    public static func connect(_ ssl: OpaquePointer) -> TLSHandshake {
        let outcome = step(ssl, SSL_connect(ssl))
        guard case .failed(let reason) = outcome, reason == "certificate verify failed" else { return outcome }
        let result = SSL_get_verify_result(ssl)
        guard result != X509_V_OK, let text = X509_verify_cert_error_string(result) else { return outcome }
        return .failed(reason + ": " + String(cString: text))
    }

    /// Whether the handshake resumed an earlier session.
    public static func resumed(_ ssl: OpaquePointer) -> Bool { SSL_session_reused(ssl) == 1 }
}
