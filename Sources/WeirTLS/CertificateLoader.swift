import COpenSSL
import CShims
import Glibc
import WeirConfig

/// One SSL_CTX a `bind … ssl` line serves from: one certificate, or several
/// of different key types (ECDSA and RSA) for the same names, among which
/// OpenSSL picks by what the client supports. Frees its context.
final class ServedContext {
    let ctx: OpaquePointer
    /// The `alpn` list of its certificate's line, in wire format.
    let alpnWire: [UInt8]
    /// The crt-list options it was built with.
    let options: BindTLS.Options
    /// The names it serves, sorted: another certificate for exactly these
    /// names (and options) but another key type joins this context.
    let nameSet: [String]
    /// `!name` filters: names its wildcards do not serve.
    let exclusions: Set<String>
    /// The EVP_PKEY base ids of its certificates.
    var keyTypes: [Int32] = []
    /// OCSP responses to staple, per certificate (X509 *).
    var staples: [OCSPStaple] = []
    /// Its certificates (X509 *, owned by the context) and their files.
    var certificates: [(file: String, certificate: OpaquePointer)] = []
    /// What a connection switched to this context by SNI must also set,
    /// because OpenSSL keeps it per connection; nil when the default
    /// context has the same.
    let handshake: HandshakeSettings?

    /// Protocol versions, ciphers and curves, ready for OpenSSL.
    struct HandshakeSettings {
        var minVersion: Int32
        var maxVersion: Int32
        var ciphers: [CChar]
        var ciphersuites: [CChar]?
        var curves: [CChar]?

        init(_ s: BindTLS) {
            minVersion = TLSFrontend.protocolVersion(s.minVersion ?? .tls12)
            maxVersion = s.maxVersion.map(TLSFrontend.protocolVersion) ?? 0
            ciphers = Array((s.ciphers ?? TLSFrontend.defaultCiphers).utf8CString)
            ciphersuites = s.ciphersuites.map { Array($0.utf8CString) }
            curves = s.curves.map { Array($0.utf8CString) }
        }

        /// Whether `a` and `b` set the same.
        static func same(_ a: BindTLS, _ b: BindTLS) -> Bool {
            a.minVersion == b.minVersion && a.maxVersion == b.maxVersion && a.ciphers == b.ciphers
                && a.ciphersuites == b.ciphersuites && a.curves == b.curves
        }
    }

    init(ctx: OpaquePointer, alpnWire: [UInt8], options: BindTLS.Options, nameSet: [String], exclusions: Set<String>,
         handshake: HandshakeSettings?) {
        self.ctx = ctx
        self.alpnWire = alpnWire
        self.options = options
        self.nameSet = nameSet
        self.exclusions = exclusions
        self.handshake = handshake
    }

    deinit { SSL_CTX_free(ctx) }

    /// Switches `ssl` (in its ClientHello callback) to this context, with
    /// its client certificate check (OpenSSL takes the verify mode from the
    /// connection; the CA store and names follow the context); false when
    /// OpenSSL refuses.
    func use(on ssl: OpaquePointer) -> Bool {
        guard SSL_set_SSL_CTX(ssl, ctx) != nil else { return false }
        SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), SSL_CTX_get_verify_callback(ctx))
        guard let h = handshake else { return true }
        return h.ciphers.withUnsafeBufferPointer { ciphers in
            withOptionalCString(h.ciphersuites) { suites in
                withOptionalCString(h.curves) { curves in
                    CShims_SSL_set_handshake_settings(ssl, h.minVersion, h.maxVersion, ciphers.baseAddress, suites, curves) == 1
                }
            }
        }
    }

    /// `set ssl ocsp-response`: staples `response` from now on for the
    /// certificates it is about; how many.
    func updateOCSP(_ response: [UInt8]) -> Int {
        var updated = 0
        for (file, certificate) in certificates {
            guard case .staple(let staple) = OCSPStaple.check(response, for: file, certificate: certificate, in: ctx) else {
                continue
            }
            staples.removeAll { $0.certificate == certificate }
            staples.append(staple)
            updated += 1
        }
        if updated > 0 {
            CShims_SSL_CTX_set_tlsext_status_cb(ctx, tlsOCSPStatusCallback, Unmanaged.passUnretained(self).toOpaque())
        }
        return updated
    }

    /// The ALPN and OCSP callbacks, pointing at this object.
    func installCallbacks() {
        let me = Unmanaged.passUnretained(self).toOpaque()
        if !alpnWire.isEmpty { SSL_CTX_set_alpn_select_cb(ctx, tlsALPNCallback, me) }
        if !staples.isEmpty { CShims_SSL_CTX_set_tlsext_status_cb(ctx, tlsOCSPStatusCallback, me) }
    }
}

private func withOptionalCString<R>(_ chars: [CChar]?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let chars else { return body(nil) }
    return chars.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// `ssl-dh-param-file`: DH parameters (an OpenSSL 3 EVP_PKEY) every context
/// of the configuration uses for DHE ciphers.
public final class DHParameters: @unchecked Sendable {
    let key: OpaquePointer
    let path: String

    private init(key: OpaquePointer, path: String) {
        self.key = key
        self.path = path
    }
    deinit { EVP_PKEY_free(key) }

    /// The parameters of `global.dhParamFile`, nil when it is not set.
    static func load(_ global: GlobalSettings) throws(TLSConfigError) -> DHParameters? {
        guard let path = global.dhParamFile, let location = global.dhParamFileLocation else { return nil }
        var message = [CChar](repeating: 0, count: 256)
        guard let key = CShims_load_dh_params(path, &message, Int32(message.count)) else {
            let reason = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw TLSConfigError("ssl-dh-param-file: cannot load DH parameters from '\(path)': \(reason)", at: location)
        }
        return DHParameters(key: key, path: path)
    }
}

/// Builds the contexts of a `bind … ssl` line from its `crt` and `crt-list`
/// certificates.
enum CertificateLoader {
    /// A problem with one certificate file, before it is placed at the `crt`
    /// argument or the crt-list line.
    struct Failure: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    struct Loaded {
        var served: [ServedContext]
        var names: [String: [Int]]
        var warnings: [TLSConfigError]
    }

    /// `message` at `location`; for a crt-list line, `FILE:LINE: ` stands
    /// first instead of `bind: `.
    static func error(_ message: String, at location: SourceLocation, origin: String?) -> TLSConfigError {
        guard let origin else { return TLSConfigError(message, at: location) }
        let text = message.hasPrefix("bind: ") ? String(message.dropFirst(6)) : message
        return TLSConfigError("\(origin): \(text)", at: location)
    }

    /// When OpenSSL refuses the colon-separated `list`, its first element
    /// that OpenSSL refuses alone (or the whole list); nil when it is taken.
    static func unknownListElement(_ ctx: OpaquePointer, _ list: String,
                                   _ set: (OpaquePointer?, UnsafePointer<CChar>?) -> Int32) -> String? {
        if set(ctx, list) == 1 { return nil }
        ERR_clear_error()
        let bad = list.split(separator: ":").map(String.init).first { set(ctx, $0) != 1 } ?? list
        ERR_clear_error()
        return bad
    }

    static func load(_ settings: BindTLS, http: Bool, dhParameters: DHParameters?) throws(TLSConfigError) -> Loaded {
        var served: [ServedContext] = []
        var names: [String: [Int]] = [:]
        var warnings: [TLSConfigError] = []
        for certificate in settings.certificates {
            let location = certificate.location
            let origin = certificate.origin
            let files: [String]
            do { files = try TLSFrontend.certificateFiles(certificate) } catch {
                throw CertificateLoader.error(error.message, at: location, origin: origin)
            }
            let effective = settings.applying(certificate.options)
            let alpn = alpnWire(effective.alpn, http: http)
            let handshake = ServedContext.HandshakeSettings.same(effective, settings.applying(settings.certificates[0].options))
                ? nil : ServedContext.HandshakeSettings(effective)
            for file in files {
                let fresh = try TLSFrontend.makeContext(settings, for: certificate, dhParameters: dhParameters)
                do { try TLSFrontend.useCertificate(fresh, file: file) } catch {
                    SSL_CTX_free(fresh)
                    throw CertificateLoader.error(error.message, at: location, origin: origin)
                }
                if let expiry = TLSFrontend.expiry(fresh) {
                    warnings.append(CertificateLoader.error("bind: the certificate in '\(file)' expired on \(expiry)",
                                                            at: location, origin: origin))
                }
                let keyType = SSL_CTX_get0_certificate(fresh).map { EVP_PKEY_get_base_id(X509_get0_pubkey($0)) } ?? 0
                let serves: [String] = certificate.sniFilters.isEmpty ? TLSFrontend.certificateNames(fresh)
                    : certificate.sniFilters
                let nameSet = Array(Set(serves)).sorted()
                // Same names, same options, another key type: one context with both.
                let target: ServedContext
                if let group = served.first(where: {
                    $0.nameSet == nameSet && $0.options == certificate.options && !$0.keyTypes.contains(keyType)
                }) {
                    SSL_CTX_free(fresh)
                    do { try TLSFrontend.useCertificate(group.ctx, file: file) } catch {
                        throw CertificateLoader.error(error.message, at: location, origin: origin)
                    }
                    target = group
                } else {
                    let context = ServedContext(ctx: fresh, alpnWire: alpn,
                                                options: certificate.options, nameSet: nameSet,
                                                exclusions: Set(serves.filter { $0.hasPrefix("!") }.map { String($0.dropFirst()) }),
                                                handshake: handshake)
                    served.append(context)
                    for name in serves where !name.hasPrefix("!") {
                        if names[name]?.contains(served.count - 1) != true { names[name, default: []].append(served.count - 1) }
                    }
                    target = context
                }
                target.keyTypes.append(keyType)
                if let certificate = SSL_CTX_get0_certificate(target.ctx) { target.certificates.append((file, certificate)) }
                switch OCSPStaple.load(for: file, in: target.ctx) {
                case .none: break
                case .staple(let staple): target.staples.append(staple)
                case .ignored(let message):
                    warnings.append(CertificateLoader.error(message, at: location, origin: origin))
                case .failed(let message):
                    throw CertificateLoader.error(message, at: location, origin: origin)
                }
            }
        }
        return Loaded(served: served, names: names, warnings: warnings)
    }

    /// An `alpn` list in wire format (length-prefixed names), without what a
    /// `mode http` frontend does not speak.
    static func alpnWire(_ alpn: [String], http: Bool) -> [UInt8] {
        var wire: [UInt8] = []
        for name in alpn where !(http && TLSFrontend.unsupportedHTTPProtocols.contains(name)) {
            wire.append(UInt8(name.utf8.count))
            wire.append(contentsOf: name.utf8)
        }
        return wire
    }
}

/// ALPN: the first protocol of the `alpn` list the client also offers.
private func tlsALPNCallback(_ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                             _ outlen: UnsafeMutablePointer<UInt8>?, _ input: UnsafePointer<UInt8>?, _ inlen: UInt32,
                             _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let arg, let out, let outlen, let input else { return SSL_TLSEXT_ERR_NOACK }
    let context = Unmanaged<ServedContext>.fromOpaque(arg).takeUnretainedValue()
    return context.alpnWire.withUnsafeBufferPointer { server in
        CShims_SSL_select_alpn(out, outlen, server.baseAddress, UInt32(server.count), input, inlen) == 1
            ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_NOACK
    }
}
