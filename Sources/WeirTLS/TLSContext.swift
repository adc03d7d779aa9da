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
/// certificate (the first is the default), the names each certificate
/// serves, and the ALPN protocols offered. Built once per process and kept
/// for its lifetime (the SNI and ALPN callbacks point at it).
public final class TLSFrontend: @unchecked Sendable {
    /// SSL_CTX pointers, the default first.
    let contexts: [OpaquePointer]
    /// Lower-cased DNS name (`*.example.com` for a wildcard) to context index.
    let names: [String: Int]
    let strictSNI: Bool
    /// The `alpn` list in wire format (length-prefixed names).
    let alpnWire: [UInt8]
    /// What deserves a warning but still serves (an expired certificate).
    public let warnings: [TLSConfigError]

    /// ALPN names a `mode http` frontend does not offer: Weir speaks HTTP/1 only.
    public static let unsupportedHTTPProtocols: Set<String> = ["h2", "h3", "h2c"]

    /// The Mozilla "intermediate" TLS 1.2 list: ECDHE, AEAD only.
    public static let defaultCiphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        + "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        + "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

    /// Reads every certificate the line names and builds its contexts.
    /// `http`: the frontend speaks HTTP/1 only, so `h2` is not offered.
    public init(_ settings: BindTLS, http: Bool = false) throws(TLSConfigError) {
        var files: [(path: String, location: SourceLocation)] = []
        for certificate in settings.certificates {
            for path in try TLSFrontend.certificateFiles(certificate) { files.append((path, certificate.location)) }
        }
        var contexts: [OpaquePointer] = []
        var names: [String: Int] = [:]
        var warnings: [TLSConfigError] = []
        var wire: [UInt8] = []
        for name in settings.alpn where !(http && TLSFrontend.unsupportedHTTPProtocols.contains(name)) {
            wire.append(UInt8(name.utf8.count))
            wire.append(contentsOf: name.utf8)
        }
        do {
            for file in files {
                let ctx = try TLSFrontend.makeContext(settings, file: file.path, at: file.location)
                contexts.append(ctx)
                if let expiry = TLSFrontend.expiry(ctx) {
                    warnings.append(TLSConfigError("bind: the certificate in '\(file.path)' expired on \(expiry)", at: file.location))
                }
                for name in TLSFrontend.certificateNames(ctx) where names[name] == nil { names[name] = contexts.count - 1 }
            }
        } catch {
            for ctx in contexts { SSL_CTX_free(ctx) }
            throw error
        }
        self.contexts = contexts
        self.names = names
        self.strictSNI = settings.strictSNI
        self.alpnWire = wire
        self.warnings = warnings
        let me = Unmanaged.passUnretained(self).toOpaque()
        CShims_SSL_CTX_set_tlsext_servername_callback(contexts[0], tlsServerNameCallback, me)
        if !wire.isEmpty {
            for ctx in contexts { SSL_CTX_set_alpn_select_cb(ctx, tlsALPNCallback, me) }
        }
    }

    deinit {
        for ctx in contexts { SSL_CTX_free(ctx) }
    }

    /// A new server-side connection on `fd`, or nil when OpenSSL is out of memory.
    public func connection(fd: Int32) -> OpaquePointer? {
        guard let ssl = SSL_new(contexts[0]) else { return nil }
        guard SSL_set_fd(ssl, fd) == 1 else {
            SSL_free(ssl)
            return nil
        }
        SSL_set_accept_state(ssl)
        return ssl
    }

    /// The context serving `name`: an exact name first, then a wildcard one
    /// level up; nil when none does.
    func context(forServerName name: String) -> Int? {
        let lower = name.lowercased()
        if let exact = names[lower] { return exact }
        guard let dot = lower.firstIndex(of: ".") else { return nil }
        return names["*" + lower[dot...]]
    }

    // MARK: - Loading

    /// `crt FILE` is one file; `crt DIR` is every file in it, in name order,
    /// except the `.key`, `.ocsp`, `.issuer` and `.sctl` companions.
    static func certificateFiles(_ certificate: BindTLS.Certificate) throws(TLSConfigError) -> [String] {
        let path = certificate.path
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw TLSConfigError("bind: cannot read certificate '\(path)': \(String(cString: strerror(errno)))",
                                 at: certificate.location)
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

    static func makeContext(_ settings: BindTLS, file: String, at location: SourceLocation) throws(TLSConfigError) -> OpaquePointer {
        guard let ctx = SSL_CTX_new(TLS_server_method()) else {
            throw TLSConfigError("bind: cannot create a TLS context: \(TLSErrors.pop())", at: location)
        }
        func fail(_ message: String) -> TLSConfigError {
            SSL_CTX_free(ctx)
            return TLSConfigError(message, at: location)
        }
        CShims_SSL_CTX_set_server_defaults(ctx)
        _ = CShims_SSL_CTX_set_min_proto_version(ctx, protocolVersion(settings.minVersion ?? .tls12))
        if let max = settings.maxVersion { _ = CShims_SSL_CTX_set_max_proto_version(ctx, protocolVersion(max)) }
        if SSL_CTX_set_cipher_list(ctx, settings.ciphers ?? defaultCiphers) != 1 {
            ERR_clear_error()
            throw fail("bind: no usable cipher in 'ciphers \(settings.ciphers ?? "")'")
        }
        if let suites = settings.ciphersuites, SSL_CTX_set_ciphersuites(ctx, suites) != 1 {
            ERR_clear_error()
            throw fail("bind: no usable cipher suite in 'ciphersuites \(suites)'")
        }
        // Readable at all? (OpenSSL's own message for a missing file is vague.)
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw fail("bind: cannot read certificate '\(file)': \(reason)")
        }
        Glibc.close(fd)
        ERR_clear_error()
        guard SSL_CTX_use_certificate_chain_file(ctx, file) == 1 else {
            let reason = TLSErrors.pop()
            throw fail("bind: '\(file)' holds no valid PEM certificate (\(reason))")
        }
        if SSL_CTX_use_PrivateKey_file(ctx, file, SSL_FILETYPE_PEM) != 1 {
            let reason = TLSErrors.pop()
            let keyFile = file + ".key"
            if access(keyFile, F_OK) == 0 {
                guard access(keyFile, R_OK) == 0 else {
                    throw fail("bind: cannot read private key '\(keyFile)': \(String(cString: strerror(errno)))")
                }
                if SSL_CTX_use_PrivateKey_file(ctx, keyFile, SSL_FILETYPE_PEM) != 1 {
                    let keyReason = TLSErrors.pop()
                    if keyReason.contains("values mismatch") || keyReason.contains("key values mismatch") {
                        throw fail("bind: the private key in '\(keyFile)' does not match the certificate in '\(file)'")
                    }
                    throw fail("bind: '\(keyFile)' holds no valid PEM private key (\(keyReason))")
                }
            } else if reason.contains("values mismatch") {
                throw fail("bind: the private key in '\(file)' does not match its certificate")
            } else {
                throw fail("bind: no private key for '\(file)' in the file nor in '\(keyFile)'")
            }
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            ERR_clear_error()
            throw fail("bind: the private key for '\(file)' does not match its certificate")
        }
        return ctx
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

/// SNI: switches the connection to the certificate serving the name.
private func tlsServerNameCallback(_ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?,
                                   _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let ssl, let arg else { return SSL_TLSEXT_ERR_NOACK }
    let frontend = Unmanaged<TLSFrontend>.fromOpaque(arg).takeUnretainedValue()
    guard let name = SSL_get_servername(ssl, Int32(TLSEXT_NAMETYPE_host_name)) else {
        if frontend.strictSNI {
            alert?.pointee = 112  // unrecognized_name
            return SSL_TLSEXT_ERR_ALERT_FATAL
        }
        return SSL_TLSEXT_ERR_OK
    }
    guard let index = frontend.context(forServerName: String(cString: name)) else {
        if frontend.strictSNI {
            alert?.pointee = 112
            return SSL_TLSEXT_ERR_ALERT_FATAL
        }
        return SSL_TLSEXT_ERR_OK
    }
    if index != 0 { SSL_set_SSL_CTX(ssl, frontend.contexts[index]) }
    return SSL_TLSEXT_ERR_OK
}

/// ALPN: the first protocol of the `alpn` list the client also offers.
private func tlsALPNCallback(_ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                             _ outlen: UnsafeMutablePointer<UInt8>?, _ input: UnsafePointer<UInt8>?, _ inlen: UInt32,
                             _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let arg, let out, let outlen, let input else { return SSL_TLSEXT_ERR_NOACK }
    let frontend = Unmanaged<TLSFrontend>.fromOpaque(arg).takeUnretainedValue()
    return frontend.alpnWire.withUnsafeBufferPointer { server in
        CShims_SSL_select_alpn(out, outlen, server.baseAddress, UInt32(server.count), input, inlen) == 1
            ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_NOACK
    }
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
        for frontend in configuration.frontends {
            var seen = Set<BindTLS>()
            for bind in frontend.binds {
                guard let tls = bind.tls, seen.insert(tls).inserted else { continue }
                let http = frontend.mode == .http
                do {
                    let built = try TLSFrontend(tls, http: http)
                    for warning in built.warnings {
                        diagnostics.append(Diagnostic(severity: .warning, location: warning.location, message: warning.message))
                    }
                } catch {
                    diagnostics.append(error.diagnostic)
                }
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
    /// Binds of one line share one `TLSFrontend`.
    public static func build(_ configuration: Configuration) throws(TLSConfigError) -> [[TLSFrontend?]] {
        var result: [[TLSFrontend?]] = []
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
                    let made = try TLSFrontend(tls, http: frontend.mode == .http)
                    built[tls] = made
                    row.append(made)
                }
            }
            result.append(row)
        }
        return result
    }
}
