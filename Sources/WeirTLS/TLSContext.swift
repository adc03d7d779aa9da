import COpenSSL
import CShims
import Glibc
import WeirConfig

/// A certificate, key or option of a `bind … ssl` line that OpenSSL refused,
/// with where the line names it.
public struct TLSConfigError: Error, Sendable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(_ message: String, at location: SourceLocation) {
        self.message = message
        self.location = location
    }

    public var description: String { "\(location): \(message)" }

    public var diagnostic: Diagnostic { Diagnostic(severity: .error, location: location, message: message) }
}

/// The server side of one `bind … ssl` line: one OpenSSL context per
/// certificate (the first is the default) or per set of certificates of
/// different key types serving the same names, the names each context
/// serves, and the ALPN protocols offered. Built once per process and kept
/// for its lifetime (the SNI, ALPN and OCSP callbacks point at it).
public final class TLSFrontend: @unchecked Sendable {
    /// The contexts, the default first.
    let served: [ServedContext]
    /// Lower-cased DNS name (`*.example.com` for a wildcard) to the contexts
    /// serving it, in configuration order.
    let names: [String: [Int]]
    let strictSNI: Bool
    /// What deserves a warning but still serves (an expired certificate).
    public let warnings: [TLSConfigError]
    /// Session IDs, tickets and the shared cache (the contexts point at it).
    let resumption: TLSResumption

    /// ALPN names a `mode http` frontend does not offer: Weir speaks HTTP/1 only.
    public static let unsupportedHTTPProtocols: Set<String> = ["h2", "h3", "h2c"]

    /// The Mozilla "intermediate" TLS 1.2 list: ECDHE, AEAD only.
    public static let defaultCiphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        + "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        + "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

    /// Reads every certificate the line names and builds its contexts.
    /// `http`: the frontend speaks HTTP/1 only, so `h2` is not offered.
    /// `dhParameters`: `ssl-dh-param-file`, else sized to each key.
    /// `frontend` names the session ID context; `store` is where sessions
    /// and ticket keys are shared (nil: when only checking).
    public init(_ settings: BindTLS, http: Bool = false, dhParameters: DHParameters? = nil, frontend: String = "",
                store: TLSSessionStore? = nil) throws(TLSConfigError) {
        let resumption = try TLSResumption(settings, frontend: frontend, store: store)
        let loaded = try CertificateLoader.load(settings, http: http, dhParameters: dhParameters)
        self.served = loaded.served
        self.names = loaded.names
        self.strictSNI = settings.strictSNI
        self.warnings = loaded.warnings
        self.resumption = resumption
        for context in served { resumption.install(on: context.ctx) }
        let me = Unmanaged.passUnretained(self).toOpaque()
        SSL_CTX_set_client_hello_cb(served[0].ctx, tlsClientHelloCallback, me)
        CShims_SSL_CTX_set_tlsext_servername_callback(served[0].ctx, tlsServerNameCallback, me)
        for context in served { context.installCallbacks() }
    }

    /// A new server-side connection on `fd`, or nil when OpenSSL is out of memory.
    public func connection(fd: Int32) -> OpaquePointer? {
        guard let ssl = SSL_new(served[0].ctx) else { return nil }
        guard SSL_set_fd(ssl, fd) == 1 else {
            SSL_free(ssl)
            return nil
        }
        SSL_set_accept_state(ssl)
        return ssl
    }

    /// The context serving `name`: an exact name first, then a wildcard one
    /// level up that the same context does not exclude (`!name` in a
    /// crt-list); nil when none does.
    func context(forServerName name: String) -> Int? {
        let lower = name.lowercased()
        if let exact = names[lower]?.first { return exact }
        guard let dot = lower.firstIndex(of: ".") else { return nil }
        return names["*" + lower[dot...]]?.first { !served[$0].exclusions.contains(lower) }
    }

    // MARK: - Loading

    /// `crt FILE` is one file; `crt DIR` is every file in it, in name order,
    /// except the `.key`, `.ocsp`, `.issuer` and `.sctl` companions. A FILE
    /// that does not exist but has `.rsa`, `.dsa` or `.ecdsa` siblings is
    /// HAProxy's multi-certificate bundle: those files.
    static func certificateFiles(_ certificate: BindTLS.Certificate) throws(TLSConfigError) -> [String] {
        let path = certificate.path
        var info = stat()
        guard stat(path, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            let bundle = ["rsa", "dsa", "ecdsa"].map { path + "." + $0 }.filter { access($0, F_OK) == 0 }
            if !bundle.isEmpty { return bundle }
            throw TLSConfigError("bind: cannot read certificate '\(path)': \(reason)", at: certificate.location)
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { return [path] }
        guard let dir = opendir(path) else {
            throw TLSConfigError("bind: cannot read certificate directory '\(path)': \(String(cString: strerror(errno)))",
                                 at: certificate.location)
        }
        defer { closedir(dir) }
        var files: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name.hasPrefix(".") { continue }
            if [".key", ".ocsp", ".issuer", ".sctl"].contains(where: { name.hasSuffix($0) }) { continue }
            let full = path.hasSuffix("/") ? path + name : path + "/" + name
            var fileInfo = stat()
            if stat(full, &fileInfo) == 0, fileInfo.st_mode & S_IFMT == S_IFREG { files.append(full) }
        }
        guard !files.isEmpty else {
            throw TLSConfigError("bind: no certificate in directory '\(path)'", at: certificate.location)
        }
        return files.sorted()
    }

    /// A server context with the protocol versions, ciphers, curves,
    /// signature algorithms and flags of the line and of `certificate`'s
    /// crt-list options, and no certificate yet. A refused option is an
    /// error where it was written.
    static func makeContext(_ line: BindTLS, for certificate: BindTLS.Certificate,
                            dhParameters: DHParameters?) throws(TLSConfigError) -> OpaquePointer {
        let settings = line.applying(certificate.options)
        guard let ctx = SSL_CTX_new(TLS_server_method()) else {
            throw TLSConfigError("bind: cannot create a TLS context: \(TLSErrors.pop())", at: certificate.location)
        }
        func fail(_ message: String, option: String? = nil) -> TLSConfigError {
            SSL_CTX_free(ctx)
            let entryOption = switch option {
            case "ciphers": certificate.options.ciphers != nil
            case "ciphersuites": certificate.options.ciphersuites != nil
            case "curves": certificate.options.curves != nil
            case "sigalgs": certificate.options.sigalgs != nil
            default: false
            }
            guard entryOption, let origin = certificate.origin else {
                return TLSConfigError(message, at: option.flatMap { line.optionLocations[$0] } ?? certificate.location)
            }
            return CertificateLoader.error(message, at: certificate.location, origin: origin)
        }
        CShims_SSL_CTX_set_server_defaults(ctx)
        CShims_SSL_CTX_set_bind_flags(ctx, settings.noTLSTickets ? 1 : 0, settings.preferClientCiphers ? 1 : 0)
        _ = CShims_SSL_CTX_set_min_proto_version(ctx, protocolVersion(settings.minVersion ?? .tls12))
        if let max = settings.maxVersion { _ = CShims_SSL_CTX_set_max_proto_version(ctx, protocolVersion(max)) }
        if SSL_CTX_set_cipher_list(ctx, settings.ciphers ?? defaultCiphers) != 1 {
            ERR_clear_error()
            throw fail("bind: no usable cipher in 'ciphers \(settings.ciphers ?? "")'", option: "ciphers")
        }
        if let suites = settings.ciphersuites, SSL_CTX_set_ciphersuites(ctx, suites) != 1 {
            ERR_clear_error()
            throw fail("bind: no usable cipher suite in 'ciphersuites \(suites)'", option: "ciphersuites")
        }
        if let curves = settings.curves,
           let bad = CertificateLoader.unknownListElement(ctx, curves, CShims_SSL_CTX_set1_groups_list) {
            throw fail("bind: unknown curve '\(bad)' in 'curves \(curves)'", option: "curves")
        }
        if let sigalgs = settings.sigalgs,
           let bad = CertificateLoader.unknownListElement(ctx, sigalgs, CShims_SSL_CTX_set1_sigalgs_list) {
            throw fail("bind: unknown signature algorithm '\(bad)' in 'sigalgs \(sigalgs)'", option: "sigalgs")
        }
        if let dhParameters {
            guard CShims_SSL_CTX_set_dh_params(ctx, dhParameters.key) == 1 else {
                throw fail("bind: OpenSSL refuses the DH parameters in '\(dhParameters.path)' (\(TLSErrors.pop()))")
            }
        } else {
            _ = CShims_SSL_CTX_set_dh_auto(ctx)
        }
        do {
            try configureClientVerification(ctx, settings.clientVerification, at: certificate.location)
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        return ctx
    }

    /// Loads the certificate, its chain and its key from `file` (the key
    /// from `file.key` when `file` has none) into `ctx`, as its certificate
    /// for the key's type.
    static func useCertificate(_ ctx: OpaquePointer, file: String) throws(CertificateLoader.Failure) {
        // Readable at all? (OpenSSL's own message for a missing file is vague.)
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw .init("bind: cannot read certificate '\(file)': \(reason)")
        }
        Glibc.close(fd)
        ERR_clear_error()
        guard SSL_CTX_use_certificate_chain_file(ctx, file) == 1 else {
            let reason = TLSErrors.pop()
            throw .init("bind: '\(file)' holds no valid PEM certificate (\(reason))")
        }
        if SSL_CTX_use_PrivateKey_file(ctx, file, SSL_FILETYPE_PEM) != 1 {
            let reason = TLSErrors.pop()
            let keyFile = file + ".key"
            if access(keyFile, F_OK) == 0 {
                guard access(keyFile, R_OK) == 0 else {
                    throw .init("bind: cannot read private key '\(keyFile)': \(String(cString: strerror(errno)))")
                }
                if SSL_CTX_use_PrivateKey_file(ctx, keyFile, SSL_FILETYPE_PEM) != 1 {
                    let keyReason = TLSErrors.pop()
                    if keyReason.contains("values mismatch") || keyReason.contains("key values mismatch") {
                        throw .init("bind: the private key in '\(keyFile)' does not match the certificate in '\(file)'")
                    }
                    throw .init("bind: '\(keyFile)' holds no valid PEM private key (\(keyReason))")
                }
            } else if reason.contains("values mismatch") {
                throw .init("bind: the private key in '\(file)' does not match its certificate")
            } else {
                throw .init("bind: no private key for '\(file)' in the file nor in '\(keyFile)'")
            }
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            ERR_clear_error()
            throw .init("bind: the private key for '\(file)' does not match its certificate")
        }
    }

    static func protocolVersion(_ version: BindTLS.Version) -> Int32 {
        switch version {
        case .tls10: return TLS1_VERSION
        case .tls11: return TLS1_1_VERSION
        case .tls12: return TLS1_2_VERSION
        case .tls13: return TLS1_3_VERSION
        }
    }

    /// When the context's certificate expired (`2020-01-02 00:00:00 UTC`), nil if it has not.
    static func expiry(_ ctx: OpaquePointer) -> String? {
        guard let cert = SSL_CTX_get0_certificate(ctx), let notAfter = X509_get0_notAfter(cert),
              X509_cmp_current_time(notAfter) < 0 else { return nil }
        var t = tm()
        guard ASN1_TIME_to_tm(notAfter, &t) == 1 else { return "an unreadable date" }
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(t.tm_year + 1900)-\(two(t.tm_mon + 1))-\(two(t.tm_mday)) \(two(t.tm_hour)):\(two(t.tm_min)):\(two(t.tm_sec)) UTC"
    }

    /// The lower-cased DNS names of the context's certificate (SAN, else CN).
    static func certificateNames(_ ctx: OpaquePointer) -> [String] {
        guard let cert = SSL_CTX_get0_certificate(ctx) else { return [] }
        var buffer = [CChar](repeating: 0, count: 8192)
        let n = buffer.withUnsafeMutableBufferPointer { CShims_X509_dns_names(cert, $0.baseAddress, Int32($0.count)) }
        let bytes = buffer[0..<Int(n)].map { UInt8(bitPattern: $0) }
        return bytes.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self).lowercased() }
    }
}

/// SNI, from the ClientHello before OpenSSL reads the rest of it: switches
/// the connection to the context serving the name, with that context's
/// protocol versions, ciphers and curves (which OpenSSL takes from the
/// connection, not from its context); `strict-sni` refuses an unknown name.
private func tlsClientHelloCallback(_ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?,
                                    _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let ssl, let arg else { return SSL_CLIENT_HELLO_SUCCESS }
    let frontend = Unmanaged<TLSFrontend>.fromOpaque(arg).takeUnretainedValue()
    var name: UnsafePointer<UInt8>?
    var length = 0
    guard CShims_SSL_client_hello_server_name(ssl, &name, &length) == 1, let name,
          let index = frontend.context(forServerName: String(decoding: UnsafeBufferPointer(start: name, count: length),
                                                             as: UTF8.self)) else {
        if frontend.strictSNI {
            alert?.pointee = 112  // unrecognized_name
            return SSL_CLIENT_HELLO_ERROR
        }
        return SSL_CLIENT_HELLO_SUCCESS
    }
    if index != 0, !frontend.served[index].use(on: ssl) {
        alert?.pointee = 80  // internal_error
        return SSL_CLIENT_HELLO_ERROR
    }
    return SSL_CLIENT_HELLO_SUCCESS
}

/// SNI acknowledged (the name was looked up by the ClientHello callback).
private func tlsServerNameCallback(_ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?,
                                   _ arg: UnsafeMutableRawPointer?) -> Int32 {
    SSL_TLSEXT_ERR_OK
}

/// OpenSSL's per-thread error queue.
public enum TLSErrors {
    /// The reason of the oldest queued error (e.g. "unsupported protocol"),
    /// then clears the queue; "unknown error" when it is empty.
    public static func pop() -> String {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return "unknown error" }
        if let reason = ERR_reason_error_string(code) { return String(cString: reason) }
        var buffer = [UInt8](repeating: 0, count: 256)
        buffer.withUnsafeMutableBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) { ERR_error_string_n(code, $0.baseAddress, $0.count) }
        }
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }
}

/// Checks and builds the TLS side of a configuration.
public enum TLSSetup {
    /// Every `bind … ssl` problem (unreadable file, bad PEM, mismatched key),
    /// as configuration errors; empty when all certificates load.
    public static func check(_ configuration: Configuration) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        let dhParameters: DHParameters?
        do { dhParameters = try DHParameters.load(configuration.global) } catch {
            return [error.diagnostic]
        }
        for frontend in configuration.frontends {
            var seen = Set<BindTLS>()
            for bind in frontend.binds {
                guard let tls = bind.tls, seen.insert(tls).inserted else { continue }
                let http = frontend.mode == .http
                do {
                    let built = try TLSFrontend(tls, http: http, dhParameters: dhParameters, frontend: frontend.name)
                    for warning in built.warnings {
                        diagnostics.append(Diagnostic(severity: .warning, location: warning.location, message: warning.message))
                    }
                } catch where !diagnostics.contains(error.diagnostic) {
                    // A refused `global` default is reported once, not once per line.
                    diagnostics.append(error.diagnostic)
                } catch {}
                let dropped = tls.alpn.filter { TLSFrontend.unsupportedHTTPProtocols.contains($0) }
                if http, !dropped.isEmpty {
                    diagnostics.append(Diagnostic(severity: .warning, location: tls.location,
                                                  message: "bind: ALPN '\(dropped.joined(separator: ","))' is not offered: "
                                                      + "Weir speaks HTTP/1.1 only for now"))
                }
            }
        }
        return diagnostics + checkServers(configuration)
    }

    /// For each frontend, for each of its binds, its TLS side (nil: plain).
    /// Binds of one line share one `TLSFrontend`; `store` is where they share sessions.
    public static func build(_ configuration: Configuration, store: TLSSessionStore? = nil) throws(TLSConfigError) -> [[TLSFrontend?]] {
        var result: [[TLSFrontend?]] = []
        let dhParameters = try DHParameters.load(configuration.global)
        for frontend in configuration.frontends {
            var built: [BindTLS: TLSFrontend] = [:]
            var row: [TLSFrontend?] = []
            for bind in frontend.binds {
                guard let tls = bind.tls else {
                    row.append(nil)
                    continue
                }
                if let existing = built[tls] {
                    row.append(existing)
                } else {
                    let made = try TLSFrontend(tls, http: frontend.mode == .http, dhParameters: dhParameters,
                                               frontend: frontend.name, store: store)
                    built[tls] = made
                    row.append(made)
                }
            }
            result.append(row)
        }
        return result
    }
}
