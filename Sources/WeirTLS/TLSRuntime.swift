import COpenSSL
import CShims
import Glibc
import WeirConfig
import WeirShared

/// The certificate files a configuration's `bind … ssl` lines serve, the
/// OCSP responses stapled for them and the `tls-ticket-keys` files, for the
/// runtime API's `show ssl cert`, `show ssl ocsp-response` and `show
/// tls-keys`: as read when the inventory is made (once per loaded
/// configuration), then as the `set ssl …` commands change them.
public struct TLSInventory: Sendable {
    /// The files in configuration order, each once.
    public let files: [String]
    /// The `show ssl cert FILE` text of each file (without its OCSP line).
    let details: [String: String]
    /// The DER OCSP certificate id of each file whose issuer is known.
    let ocspKeys: [String: [UInt8]]
    /// The stapled responses by certificate id, the ids in the order they came.
    var ocspResponses: [[UInt8]: [UInt8]] = [:]
    var ocspOrder: [[UInt8]] = []
    /// The `tls-ticket-keys` files, each once, in configuration order (a
    /// file's index is its id), with their live keys.
    var ticketKeyFiles: [(path: String, keys: TicketKeyFile?)]

    /// No file.
    public init() {
        files = []
        details = [:]
        ocspKeys = [:]
        ticketKeyFiles = []
    }

    /// Reads every certificate file of `configuration`'s `bind … ssl`
    /// lines, with their `.ocsp` responses, then those `server … crt`
    /// presents to its servers; a file that cannot be read (the
    /// configuration check refused it) is left out.
    public init(_ configuration: Configuration) {
        var files: [String] = []
        var details: [String: String] = [:]
        var ocspKeys: [String: [UInt8]] = [:]
        var ticketKeyFiles: [(path: String, keys: TicketKeyFile?)] = []
        func add(_ path: String) {
            guard details[path] == nil, let (text, key) = Self.describe(path) else { return }
            files.append(path)
            details[path] = text
            ocspKeys[path] = key
        }
        for frontend in configuration.frontends {
            for bind in frontend.binds {
                guard let tls = bind.tls else { continue }
                if let keys = tls.ticketKeys, !ticketKeyFiles.contains(where: { $0.path == keys.path }) {
                    ticketKeyFiles.append((keys.path, try? TicketKeyFile.load(keys.path).get()))
                }
                for certificate in tls.certificates {
                    guard let paths = try? TLSFrontend.certificateFiles(certificate) else { continue }
                    for path in paths { add(path) }
                }
            }
        }
        for backend in configuration.backends {
            for server in backend.servers {
                if let certificate = server.tls.certificate { add(certificate.path) }
            }
        }
        self.files = files
        self.details = details
        self.ocspKeys = ocspKeys
        self.ticketKeyFiles = ticketKeyFiles
        for file in files {
            guard access(file + ".ocsp", F_OK) == 0, let der = try? ConfigLoader.readFile(file + ".ocsp"),
                  Self.staples(der, for: file) else { continue }
            record(der, for: [file])
        }
    }

    /// `show ssl cert [FILE]`: the list of files, or one file's details.
    public func show(_ file: String?) -> String {
        guard let file else { return "# filename\n" + files.map { $0 + "\n" }.joined() }
        guard let text = details[file] else {
            return "Can't display the certificate: Not found or the certificate is a bundle!\n"
        }
        guard let key = ocspKeys[file], ocspResponses[key] != nil else { return text }
        return text + "OCSP Response Key: \(Self.hex(key, upper: false))\n"
    }

    /// Whether `der` can be stapled for the certificate of `file`.
    static func staples(_ der: [UInt8], for file: String) -> Bool {
        if case .staple = check(der, for: file) { return true }
        return false
    }

    private static func check(_ der: [UInt8], for file: String) -> OCSPStaple.Check? {
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { return nil }
        defer {
            SSL_CTX_free(ctx)
            ERR_clear_error()
        }
        guard (try? TLSFrontend.useCertificate(ctx, file: file)) != nil else { return nil }
        return OCSPStaple.check(der, for: file, certificate: nil, in: ctx)
    }

    /// Keeps `der` as the response of the certificates of `files`.
    mutating func record(_ der: [UInt8], for files: [String]) {
        for file in files {
            guard let key = ocspKeys[file] else { continue }
            if ocspResponses[key] == nil { ocspOrder.append(key) }
            ocspResponses[key] = der
        }
    }

    /// The files whose certificate an OCSP response for `set ssl
    /// ocsp-response` is about and can be stapled for, as when a `.ocsp`
    /// file is loaded; when there is none, what is wrong with it.
    func matchOCSP(_ der: [UInt8]) -> (files: [String], problem: String) {
        var problem: String?
        var matched: [String] = []
        for file in files {
            switch Self.check(der, for: file) {
            case .staple: matched.append(file)
            case .unusable(let reason): problem = problem ?? "OCSP response: \(reason).\n"
            case .noIssuer, .otherCertificate, nil: break
            }
        }
        return (matched, problem ?? "OCSP single response: Certificate ID does not match any certificate or issuer.\n")
    }

    /// `show ssl ocsp-response [ID]`: the ids of the stapled responses with
    /// what they are made of, or one response as OpenSSL prints it.
    public func showOCSP(_ id: String?) -> String {
        guard let id else {
            var text = "# Certificate IDs\n"
            for key in ocspOrder {
                text += "  Certificate ID key : \(Self.hex(key, upper: false))\n"
                text += Self.describeCertificateID(key)
            }
            return text
        }
        guard let key = ocspOrder.first(where: { Self.hex($0, upper: false) == id.lowercased() }),
              let der = ocspResponses[key] else {
            return "Certificate ID does not match any certificate.\n"
        }
        return Self.printResponse(der) ?? "Unable to print the OCSP response.\n"
    }

    /// The issuer name and key hashes and the serial of a DER certificate id.
    private static func describeCertificateID(_ key: [UInt8]) -> String {
        let id: OpaquePointer? = key.withUnsafeBufferPointer { buffer in
            var p: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_OCSP_CERTID(nil, &p, buffer.count)
        }
        guard let id else { return "" }
        defer { OCSP_CERTID_free(id) }
        var nameHash: UnsafeMutablePointer<ASN1_OCTET_STRING>?
        var keyHash: UnsafeMutablePointer<ASN1_OCTET_STRING>?
        var serial: UnsafeMutablePointer<ASN1_INTEGER>?
        guard OCSP_id_get0_info(&nameHash, nil, &keyHash, &serial, id) == 1 else { return "" }
        func octets(_ string: UnsafeMutablePointer<ASN1_OCTET_STRING>?) -> [UInt8] {
            guard let string, let data = ASN1_STRING_get0_data(string) else { return [] }
            return Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))))
        }
        return "    Certificate ID:\n      Issuer Name Hash: \(hex(octets(nameHash)))\n"
            + "      Issuer Key Hash: \(hex(octets(keyHash)))\n      Serial Number: \(hex(octets(serial)))\n"
    }

    /// OpenSSL's text of a DER OCSP response.
    private static func printResponse(_ der: [UInt8]) -> String? {
        let response: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var p: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_OCSP_RESPONSE(nil, &p, buffer.count)
        }
        guard let response else { return nil }
        defer { OCSP_RESPONSE_free(response) }
        guard let bio = BIO_new(BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        guard OCSP_RESPONSE_print(bio, response, 0) == 1 else { return nil }
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while text.count < 1 << 20 {
            let n = chunk.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32($0.count)) }
            guard n > 0 else { break }
            text += chunk[0..<Int(n)]
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The id of the `tls-ticket-keys` file `reference` names (`#ID`, `ID` or its path).
    func ticketKeyFileIndex(_ reference: String) -> Int? {
        if let id = Int(reference.hasPrefix("#") ? String(reference.dropFirst()) : reference),
           ticketKeyFiles.indices.contains(id) {
            return id
        }
        return ticketKeyFiles.firstIndex { $0.path == reference }
    }

    /// `show tls-keys [ID|FILE|*]`: the files and their ids, or the live
    /// keys of one file (`#ID`, `ID` or its path) or of all (`*`), the one
    /// that encrypts in the middle.
    public func showTicketKeys(_ reference: String?) -> String {
        guard let reference else {
            return "# id (file)\n" + ticketKeyFiles.enumerated().map { "\($0.offset) (\($0.element.path))\n" }.joined()
        }
        let selected: [Int]
        if reference == "*" {
            selected = Array(ticketKeyFiles.indices)
        } else if let id = ticketKeyFileIndex(reference) {
            selected = [id]
        } else {
            return "'show tls-keys' unable to locate referenced filename\n"
        }
        var text = "# id secret\n"
        for id in selected {
            text += "# \(id) (\(ticketKeyFiles[id].path))\n"
            guard let file = ticketKeyFiles[id].keys else { continue }
            for index in 0..<TicketKeyFile.liveKeys {
                let key = Array(file.keys[index * file.keySize..<(index + 1) * file.keySize])
                text += "\(id).\(index) \(Base64.encode(key))\n"
            }
        }
        return text
    }

    /// HAProxy's lines for the certificate in `path`, its chain after it in
    /// the file, and its DER OCSP certificate id (nil without an issuer);
    /// nil when the file holds no PEM certificate.
    static func describe(_ path: String) -> (text: String, ocspKey: [UInt8]?)? {
        guard let file = fopen(path, "r") else { return nil }
        var certificates: [OpaquePointer] = []
        while certificates.count < 64, let certificate = PEM_read_X509(file, nil, nil, nil) {
            certificates.append(certificate)
        }
        fclose(file)
        ERR_clear_error()
        defer { for certificate in certificates { X509_free(certificate) } }
        guard let leaf = certificates.first else { return nil }
        let chain = certificates.dropFirst()
        var text = "Filename: \(path)\nStatus: Used\n"
        text += "Serial: \(hex(bytes(leaf, CShims_X509_serial)))\n"
        text += "notBefore: \(date(X509_get0_notBefore(leaf)))\n"
        text += "notAfter: \(date(X509_get0_notAfter(leaf)))\n"
        text += "Subject Alternative Name: \(alternativeNames(leaf))\n"
        text += "Algorithm: \(algorithm(leaf))\n"
        text += "SHA1 FingerPrint: \(hex(bytes(leaf, CShims_X509_sha1)))\n"
        text += "Subject: \(distinguishedName(leaf, issuer: false))\n"
        text += "Issuer: \(distinguishedName(leaf, issuer: true))\n"
        for certificate in chain {
            text += "Chain Subject: \(distinguishedName(certificate, issuer: false))\n"
            text += "Chain Issuer: \(distinguishedName(certificate, issuer: true))\n"
        }
        return (text, ocspKey(leaf, chain: Array(chain), path: path))
    }

    private static func bytes(_ certificate: OpaquePointer,
                              _ read: (OpaquePointer?, UnsafeMutablePointer<UInt8>?, Int) -> Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBufferPointer { read(certificate, $0.baseAddress, $0.count) }
        return n > 0 ? Array(buffer[0..<n]) : []
    }

    static func hex(_ bytes: [UInt8], upper: Bool = true) -> String {
        let digits = Array((upper ? "0123456789ABCDEF" : "0123456789abcdef").utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `Aug  7 17:52:27 2026 GMT`, as OpenSSL prints an ASN1_TIME.
    private static func date(_ time: UnsafePointer<ASN1_TIME>?) -> String {
        var t = tm()
        guard let time, ASN1_TIME_to_tm(time, &t) == 1 else { return "" }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let day = t.tm_mday < 10 ? " \(t.tm_mday)" : "\(t.tm_mday)"
        return "\(months[Int(t.tm_mon)]) \(day) \(two(t.tm_hour)):\(two(t.tm_min)):\(two(t.tm_sec)) \(t.tm_year + 1900) GMT"
    }

    /// `DNS:a.test, DNS:b.test` (the DNS names of the extension).
    private static func alternativeNames(_ certificate: OpaquePointer) -> String {
        var buffer = [CChar](repeating: 0, count: 8192)
        let n = buffer.withUnsafeMutableBufferPointer {
            CShims_X509_dns_names(certificate, $0.baseAddress, Int32($0.count))
        }
        guard n > 0 else { return "" }
        let names = buffer[0..<Int(n)].map { UInt8(bitPattern: $0) }.split(separator: UInt8(ascii: "\n"))
        return names.map { "DNS:" + String(decoding: $0, as: UTF8.self) }.joined(separator: ", ")
    }

    /// `RSA2048`, `EC256`, `DSA2048`: the key's type and size.
    private static func algorithm(_ certificate: OpaquePointer) -> String {
        guard let key = X509_get0_pubkey(certificate) else { return "" }
        let bits = EVP_PKEY_get_bits(key)
        switch EVP_PKEY_get_base_id(key) {
        case EVP_PKEY_RSA: return "RSA\(bits)"
        case EVP_PKEY_EC: return "EC\(bits)"
        case EVP_PKEY_DSA: return "DSA\(bits)"
        case EVP_PKEY_ED25519: return "ED25519"
        case EVP_PKEY_ED448: return "ED448"
        default: return "UNKNOWN\(bits)"
        }
    }

    /// `/C=FR/O=Org/CN=name`.
    private static func distinguishedName(_ certificate: OpaquePointer, issuer: Bool) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBufferPointer {
            CShims_X509_dn(certificate, issuer ? 1 : 0, nil, 0, 0, $0.baseAddress, $0.count)
        }
        guard n > 0 else { return "" }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The DER OCSP certificate ID (SHA-1) of `certificate`, whose issuer is
    /// in its chain or in `FILE.issuer`; nil without an issuer.
    static func ocspKey(_ certificate: OpaquePointer, chain: [OpaquePointer], path: String) -> [UInt8]? {
        var issuer = chain.first { X509_check_issued($0, certificate) == X509_V_OK }
        var loaded: OpaquePointer?
        if issuer == nil, let file = fopen(path + ".issuer", "r") {
            loaded = PEM_read_X509(file, nil, nil, nil)
            fclose(file)
            issuer = loaded
        }
        defer { if let loaded { X509_free(loaded) } }
        ERR_clear_error()
        guard let issuer, let id = OCSP_cert_to_id(nil, certificate, issuer) else { return nil }
        defer { OCSP_CERTID_free(id) }
        let length = i2d_OCSP_CERTID(id, nil)
        guard length > 0 else { return nil }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var out: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_OCSP_CERTID(id, &out)
        }
        return written == length ? der : nil
    }
}

/// The TLS commands of the runtime API, answered by the host serving the
/// stats socket (the master, or a `-d` process) before the others (their
/// `help` lines are `StatsCommands.help`'s).
public enum TLSRuntimeCommands {
    /// The answer to `command` when it is a TLS command, nil otherwise.
    /// `inventory` is made from `configuration` when first needed; a `set`
    /// command is applied to it and added to `updates`, for the host to
    /// apply to its own TLS contexts or to send to its workers.
    public static func run(_ command: String, level: StatsLevel, inventory: inout TLSInventory?,
                           configuration: @autoclosure () -> Configuration,
                           updates: inout [ControlMessage.TLSUpdate]) -> String? {
        let words = command.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard words.count >= 2 else { return nil }
        func made() -> TLSInventory {
            if let inventory { return inventory }
            let fresh = TLSInventory(configuration())
            inventory = fresh
            return fresh
        }
        switch (words[0], words[1], words.count > 2 ? words[2] : "") {
        case ("show", "tls-keys", _):
            return made().showTicketKeys(words.count > 2 ? words[2] : nil)
        case ("show", "ssl", "cert"):
            return made().show(words.count > 3 ? words[3] : nil)
        case ("show", "ssl", "ocsp-response"):
            return made().showOCSP(words.count > 3 ? words[3] : nil)
        case ("set", "ssl", "ocsp-response"):
            guard level >= .admin else { return "Permission denied\n" }
            guard words.count > 3 else { return "'set ssl ocsp-response' expects response in base64 encoding.\n" }
            guard let der = Base64.decode(Array(words[3].utf8)), !der.isEmpty else {
                return "'set ssl ocsp-response' received invalid base64 encoded response.\n"
            }
            var current = made()
            let (files, problem) = current.matchOCSP(der)
            guard !files.isEmpty else { return problem }
            current.record(der, for: files)
            inventory = current
            updates.append(.ocspResponse(der))
            return "OCSP Response updated!\n"
        case ("set", "ssl", "tls-key"):
            guard level >= .admin else { return "Permission denied\n" }
            guard words.count > 4 else {
                return "'set ssl tls-key' expects a filename and the new TLS key in base64 encoding.\n"
            }
            var current = made()
            guard let id = current.ticketKeyFileIndex(words[3]) else {
                return "'set ssl tls-key' unable to locate referenced filename\n"
            }
            guard let key = Base64.decode(Array(words[4].utf8)), let keys = current.ticketKeyFiles[id].keys?.adding(key) else {
                return "'set ssl tls-key' received invalid base64 encoded TLS key.\n"
            }
            current.ticketKeyFiles[id].keys = keys
            inventory = current
            updates.append(.ticketKey(file: current.ticketKeyFiles[id].path, key: key))
            return "TLS ticket key updated!\n"
        default:
            return nil
        }
    }
}

extension TLSFrontend {
    /// Applies a runtime API change to this line's contexts; whether it
    /// concerned the line.
    @discardableResult
    public func apply(_ update: ControlMessage.TLSUpdate) -> Bool {
        switch update {
        case .ocspResponse(let der):
            return served.reduce(0) { $0 + $1.updateOCSP(der) } > 0
        case .ticketKey(let file, let key):
            guard resumption.fileKeysPath == file, let keys = resumption.fileKeys?.adding(key) else { return false }
            resumption.fileKeys = keys
            return true
        }
    }
}
