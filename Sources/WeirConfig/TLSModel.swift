// The TLS settings of `bind … ssl` and `server … ssl` lines, and their
// `global` defaults. Files are only named here; WeirTLS reads and checks them.

/// `global` defaults of `bind … ssl` lines.
public struct DefaultBindTLS: Sendable, Hashable {
    public var ciphers: String?
    public var ciphersuites: String?
    public var minVersion: BindTLS.Version?
    public var maxVersion: BindTLS.Version?
    /// `ssl-default-bind-curves`, `ssl-default-bind-sigalgs`.
    public var curves: String?
    public var sigalgs: String?
    /// `ssl-default-bind-options no-tls-tickets`, `… prefer-client-ciphers`.
    public var noTLSTickets = false
    public var preferClientCiphers = false
    /// `no-tlsv1x` flags, applied with each bind line's own.
    public var disabledVersions: Set<BindTLS.Version> = []
    /// Where each default was written, by option name (`curves`, `ciphers`, …):
    /// OpenSSL judges the lists only when the contexts are built.
    public var locations: [String: SourceLocation] = [:]
    public init() {}
}

/// The TLS options of a `bind … ssl` line. Files are only named here; the
/// WeirTLS module reads and checks them.
public struct BindTLS: Sendable, Hashable {
    public enum Version: String, Sendable, Hashable, CaseIterable {
        case tls10 = "TLSv1.0", tls11 = "TLSv1.1", tls12 = "TLSv1.2", tls13 = "TLSv1.3"
    }

    /// A `crt FILE|DIR` argument or one line of a `crt-list`, with where it
    /// was written (for a `crt-list` line: the `crt-list` argument).
    public struct Certificate: Sendable, Hashable {
        public var path: String
        public var location: SourceLocation
        /// `FILE:LINE` of the `crt-list` line, put before the messages about it.
        public var origin: String?
        /// The SNI filters of a `crt-list` line: names, `*.domain` wildcards
        /// and `!name` exclusions. When present they replace the names of
        /// the certificate.
        public var sniFilters: [String] = []
        /// The `[…]` options of a `crt-list` line, over the bind line's.
        public var options = Options()

        public init(path: String, location: SourceLocation, origin: String? = nil, sniFilters: [String] = [],
                    options: Options = Options()) {
            self.path = path
            self.location = location
            self.origin = origin
            self.sniFilters = sniFilters
            self.options = options
        }
    }

    /// The options that a bind line and a `crt-list` line may both set; nil
    /// leaves the value to the bind line (then to `global`).
    public struct Options: Sendable, Hashable {
        public var alpn: [String]?
        public var ciphers: String?
        public var ciphersuites: String?
        public var curves: String?
        public var sigalgs: String?
        public var minVersion: Version?
        public var maxVersion: Version?
        /// `verify`, `ca-file`, `crl-file` of a crt-list line: the client
        /// certificate check of the connections SNI sends to it.
        public var verify: Verify?
        public var caFile: File?
        public var crlFile: File?
        public init() {}
    }

    public var certificates: [Certificate] = []
    /// `alpn h2,http/1.1`: protocols in the server's order of preference.
    public var alpn: [String] = []
    public var minVersion: Version?
    public var maxVersion: Version?
    public var ciphers: String?
    public var ciphersuites: String?
    /// `curves X25519:P-256`: the key-exchange groups, in OpenSSL's syntax.
    public var curves: String?
    /// `sigalgs ECDSA+SHA256:RSA-PSS+SHA256`: the signature algorithms.
    public var sigalgs: String?
    public var strictSNI = false
    /// `verify`, `ca-file`, `crl-file`, `ca-ignore-err`, `crt-ignore-err`.
    public var clientVerification = ClientVerification()
    /// `no-tls-tickets`: no stateless session resumption.
    public var noTLSTickets = false
    /// `prefer-client-ciphers`: the client's cipher order, not the server's.
    public var preferClientCiphers = false
    /// Where `ciphers`, `ciphersuites`, `curves` and `sigalgs` were written,
    /// by option name: OpenSSL judges the lists only when the contexts are built.
    public var optionLocations: [String: SourceLocation] = [:]
    /// `tls-ticket-keys FILE`: session tickets are encrypted with this file's
    /// keys instead of the master's (HAProxy's format, read when the
    /// contexts are built).
    public var ticketKeys: TicketKeys?
    /// The `ssl` word.
    public var location: SourceLocation

    /// A `tls-ticket-keys FILE` argument, with where it was written.
    public struct TicketKeys: Sendable, Hashable {
        public var path: String
        public var location: SourceLocation
        public init(path: String, location: SourceLocation) {
            self.path = path
            self.location = location
        }
    }

    public init(location: SourceLocation) { self.location = location }

    /// These settings with what `options` sets replacing the bind line's.
    public func applying(_ options: Options) -> BindTLS {
        var copy = self
        if let v = options.alpn { copy.alpn = v }
        if let v = options.ciphers { copy.ciphers = v }
        if let v = options.ciphersuites { copy.ciphersuites = v }
        if let v = options.curves { copy.curves = v }
        if let v = options.sigalgs { copy.sigalgs = v }
        if let v = options.minVersion { copy.minVersion = v }
        if let v = options.maxVersion { copy.maxVersion = v }
        if let v = options.verify { copy.clientVerification.verify = v }
        if let v = options.caFile { copy.clientVerification.caFile = v }
        if let v = options.crlFile { copy.clientVerification.crlFile = v }
        return copy
    }
}

// MARK: Client certificates (mTLS)

extension BindTLS {
    /// `verify none|optional|required`: whether a client certificate is
    /// asked for, and whether the handshake fails without one.
    public enum Verify: String, Sendable, Hashable, CaseIterable {
        case none, optional, required
    }

    /// A file a bind option names (`ca-file`, `crl-file`), with where the
    /// line names it; a relative path is already joined to `ca-base`.
    public struct File: Sendable, Hashable {
        public var path: String
        public var location: SourceLocation
        public init(path: String, location: SourceLocation) {
            self.path = path
            self.location = location
        }
    }

    /// X509 verification error ids (`X509_V_ERR_*`) a handshake lets
    /// through: `ca-ignore-err`, `crt-ignore-err` (`all`, or `10,23`).
    public struct IgnoredErrors: Sendable, Hashable {
        public var all = false
        public var ids: Set<Int> = []
        /// Ids above this are refused (HAProxy keeps them in a bit field).
        public static let maximumID = 127
        public init(all: Bool = false, ids: Set<Int> = []) {
            self.all = all
            self.ids = ids
        }
    }

    /// How a bind checks client certificates. The certificate a client
    /// presents is always checked against `caFile` (and `crlFile`); `verify`
    /// only says whether one is asked for and required.
    public struct ClientVerification: Sendable, Hashable {
        /// nil: not written (`none`).
        public var verify: Verify?
        public var caFile: File?
        /// `ca-verify-file`: more CAs to verify with (typically the roots
        /// ending the chains), whose names the certificate request does
        /// not list, unlike `caFile`'s.
        public var caVerifyFile: File?
        public var crlFile: File?
        /// Errors found above the client's own certificate (depth > 0).
        public var caIgnoreErrors = IgnoredErrors()
        /// Errors of the client's own certificate (depth 0).
        public var crtIgnoreErrors = IgnoredErrors()
        public init() {}

        public var mode: Verify { verify ?? .none }
    }
}

/// The TLS options of a server line (or `default-server`). Files are only
/// named here; WeirTLS reads and checks them.
public struct ServerTLS: Sendable, Hashable {
    public enum Verify: String, Sendable, Hashable {
        case none, required
    }

    /// `ssl`: the server's traffic is TLS.
    public var enabled = false
    /// `verify none|required`; nil: `ssl-server-verify` (default required),
    /// resolved when the configuration is built.
    public var verify: Verify?
    /// `ca-file FILE` (after `ca-base`), or `@system-ca`.
    public var caFile: ServerFile?
    /// `crt FILE` (after `crt-base`): the client certificate and its key.
    public var certificate: ServerFile?
    /// `sni EXPR`: the server name sent, evaluated at each connect.
    public var sni: Sample?
    /// Where `sni`'s expression is written.
    public var sniLocation: SourceLocation?
    /// `verifyhost NAME`: the name checked when no SNI is sent.
    public var verifyHost: String?
    /// `alpn LIST`.
    public var alpn: [String] = []
    public var minVersion: BindTLS.Version?
    public var maxVersion: BindTLS.Version?
    /// `no-tlsv1x` flags, turned into `minVersion` and `maxVersion` once
    /// the whole configuration is read.
    public var disabledVersions: Set<BindTLS.Version> = []
    public var ciphers: String?
    public var ciphersuites: String?
    /// `no-ssl-reuse` clears it: no TLS session is offered again.
    public var reuseSessions = true
    /// `no-tls-tickets` clears it, `tls-tickets` sets it: whether the
    /// session ticket extension (RFC 5077, up to TLS 1.2) is offered, so a
    /// session resumes without the server keeping it; nil until the
    /// configuration is read, then `ssl-default-server-options`'s.
    public var tickets: Bool?
    /// `check-sni NAME`: the server name health checks send.
    public var checkSNI: String?
    /// The `ssl` (or `check-ssl`) word that asked for TLS.
    public var location: SourceLocation?

    public init() {}

    /// Whether the certificate is verified (`verify` resolved).
    public var verifies: Bool { verify != ServerTLS.Verify.none }
}

/// `ssl-default-server-*` in `global`: what a server's TLS that does not
/// say otherwise uses.
public struct DefaultServerTLS: Sendable, Hashable {
    public var ciphers: String?
    public var ciphersuites: String?
    public var minVersion: BindTLS.Version?
    public var maxVersion: BindTLS.Version?
    /// `no-ssl-reuse` among `ssl-default-server-options`.
    public var noReuse = false
    /// `no-tls-tickets` among `ssl-default-server-options`.
    public var noTickets = false
    /// `no-tlsv1x` flags, applied with each server's own.
    public var disabledVersions: Set<BindTLS.Version> = []
    public init() {}
}
