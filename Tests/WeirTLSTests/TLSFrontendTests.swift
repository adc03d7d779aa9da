import Foundation
import Testing
import WeirConfig
@testable import WeirTLS

/// Certificates made with the `openssl` CLI in a temporary directory.
private final class Certificates: @unchecked Sendable {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "weir-tls-unit-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir + "/certs", withIntermediateDirectories: true)
        try make("a", subject: "/CN=a.test", san: "subjectAltName=DNS:a.test,DNS:www.a.test")
        try make("w", subject: "/CN=wildcard", san: "subjectAltName=DNS:*.w.test")
        try make("cn", subject: "/CN=Only.CN.test", san: nil)
        let a = try String(contentsOfFile: dir + "/a.crt", encoding: .utf8) + String(contentsOfFile: dir + "/a.key", encoding: .utf8)
        try a.write(toFile: dir + "/certs/1-a.pem", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: dir + "/w.crt", toPath: dir + "/certs/2-w.pem")
        try FileManager.default.copyItem(atPath: dir + "/w.key", toPath: dir + "/certs/2-w.pem.key")
        let cn = try String(contentsOfFile: dir + "/cn.crt", encoding: .utf8) + String(contentsOfFile: dir + "/cn.key", encoding: .utf8)
        try cn.write(toFile: dir + "/cn.pem", atomically: true, encoding: .utf8)
    }

    private func make(_ name: String, subject: String, san: String?) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                             "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).crt", "-days", "2", "-subj", subject]
            + (san.map { ["-addext", $0] } ?? [])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
    }

    /// A self-signed certificate valid only on 2020-01-01, made with
    /// `openssl ca` (the one command that sets past dates); returns its PEM path.
    func expired() throws -> String {
        let ca = dir + "/ca"
        try FileManager.default.createDirectory(atPath: ca, withIntermediateDirectories: true)
        try "".write(toFile: ca + "/index.txt", atomically: true, encoding: .utf8)
        try "01\n".write(toFile: ca + "/serial", atomically: true, encoding: .utf8)
        try """
            [ca]
            default_ca = d
            [d]
            database = \(ca)/index.txt
            new_certs_dir = \(ca)
            serial = \(ca)/serial
            default_md = sha256
            policy = p
            unique_subject = no
            [p]
            commonName = supplied
            """.write(toFile: ca + "/ca.cnf", atomically: true, encoding: .utf8)
        try run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", ca + "/old.key", "-out", ca + "/old.csr", "-subj", "/CN=old.test"])
        try run(["ca", "-batch", "-config", ca + "/ca.cnf", "-selfsign", "-keyfile", ca + "/old.key", "-in", ca + "/old.csr",
                 "-out", ca + "/old.crt", "-startdate", "20200101000000Z", "-enddate", "20200102000000Z"])
        let pem = try String(contentsOfFile: ca + "/old.crt", encoding: .utf8) + String(contentsOfFile: ca + "/old.key", encoding: .utf8)
        try pem.write(toFile: dir + "/old.pem", atomically: true, encoding: .utf8)
        return dir + "/old.pem"
    }

    private func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "openssl \(arguments)")
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}

private let here = SourceLocation(file: "t.cfg", line: 3, column: 30)

private func settings(_ paths: String...) -> BindTLS {
    var tls = BindTLS(location: here)
    tls.certificates = paths.map { BindTLS.Certificate(path: $0, location: here) }
    return tls
}

@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
struct TLSFrontendTests {
    @Test func namesFromSubjectAltNameAndCommonName() throws {
        let c = try Certificates()
        defer { c.remove() }
        let frontend = try TLSFrontend(settings(c.dir + "/certs", c.dir + "/cn.pem"))
        #expect(frontend.served.count == 3)
        #expect(frontend.names == ["a.test": [0], "www.a.test": [0], "*.w.test": [1], "only.cn.test": [2]])
        #expect(frontend.context(forServerName: "A.Test") == 0)
        #expect(frontend.context(forServerName: "api.w.test") == 1)
        #expect(frontend.context(forServerName: "a.b.w.test") == nil)
        #expect(frontend.context(forServerName: "w.test") == nil)
        #expect(frontend.context(forServerName: "only.cn.test") == 2)
        #expect(frontend.context(forServerName: "nothing") == nil)
    }

    @Test func alpnWireFormatWithoutH2ForHTTP() throws {
        let c = try Certificates()
        defer { c.remove() }
        var tls = settings(c.dir + "/certs/1-a.pem")
        tls.alpn = ["h2", "http/1.1"]
        #expect(try TLSFrontend(tls).served[0].alpnWire == [2, 104, 50, 8] + Array("http/1.1".utf8))
        #expect(try TLSFrontend(tls, http: true).served[0].alpnWire == [8] + Array("http/1.1".utf8))
    }

    @Test func refusedSettings() throws {
        let c = try Certificates()
        defer { c.remove() }
        func message(_ tls: BindTLS) -> String? {
            do {
                _ = try TLSFrontend(tls)
                return nil
            } catch {
                return error.description
            }
        }
        var ciphers = settings(c.dir + "/cn.pem")
        ciphers.ciphers = "NOPE"
        #expect(message(ciphers) == "t.cfg:3:30: bind: no usable cipher in 'ciphers NOPE'")
        var suites = settings(c.dir + "/cn.pem")
        suites.ciphersuites = "TLS_NOPE"
        #expect(message(suites) == "t.cfg:3:30: bind: no usable cipher suite in 'ciphersuites TLS_NOPE'")
        #expect(message(settings(c.dir + "/a.crt"))
                == "t.cfg:3:30: bind: no private key for '\(c.dir)/a.crt' in the file nor in '\(c.dir)/a.crt.key'")
        try FileManager.default.createDirectory(atPath: c.dir + "/empty", withIntermediateDirectories: false)
        #expect(message(settings(c.dir + "/empty")) == "t.cfg:3:30: bind: no certificate in directory '\(c.dir)/empty'")
        #expect(message(settings(c.dir + "/none.pem"))
                == "t.cfg:3:30: bind: cannot read certificate '\(c.dir)/none.pem': No such file or directory")
    }

    @Test func anExpiredCertificateIsAWarning() throws {
        let c = try Certificates()
        defer { c.remove() }
        let old = try c.expired()
        let frontend = try TLSFrontend(settings(c.dir + "/cn.pem", old))
        #expect(frontend.warnings.map(\.description) == ["t.cfg:3:30: bind: the certificate in '\(old)' expired on 2020-01-02 00:00:00 UTC"])
        #expect(try TLSFrontend(settings(c.dir + "/cn.pem")).warnings.isEmpty)
    }

    @Test func checkWarnsAboutH2InHTTPMode() throws {
        let c = try Certificates()
        defer { c.remove() }
        let text = """
            frontend fe
                mode http
                bind :443 ssl crt \(c.dir)/cn.pem alpn h2,http/1.1
                default_backend be
            backend be
                mode http
            """
        let result = ConfigParser.parse([ConfigFile(name: "t.cfg", bytes: Array(text.utf8))], environment: [:])
        let configuration = try #require(result.configuration)
        #expect(TLSSetup.check(configuration).map { $0.rendered() }
                == ["t.cfg:3:15: warning: bind: ALPN 'h2' is not offered: Weir speaks HTTP/1.1 only for now"])
        let built = try TLSSetup.build(configuration)
        #expect(built.count == 1 && built[0].count == 1 && built[0][0] != nil)
    }
}
