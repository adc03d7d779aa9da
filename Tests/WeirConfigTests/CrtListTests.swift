import Testing
@testable import WeirConfig
#if canImport(Glibc)
import Glibc
#endif

@Suite struct CrtListTests {
    /// `text` in a new temporary file; its path.
    func listFile(_ text: String) throws -> String {
        var template = Array("/tmp/weir-crtlist-test-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        try #require(fd >= 0)
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        try #require(n == bytes.count)
        return String(cString: template)
    }

    func lines(_ text: String) -> (lines: [CrtList.Line], errors: [String], warnings: [String]) {
        let parsed = CrtList.parse(Array(text.utf8))
        return (parsed.lines, parsed.errors.map { "\($0.line): \($0.message)" },
                parsed.warnings.map { "\($0.line): \($0.message)" })
    }

    @Test func splitsPathOptionsAndFilters() {
        let parsed = lines("""
            # a comment

            site.pem
              # an indented comment
            api.pem [alpn h2,http/1.1 ssl-min-ver TLSv1.3] api.example.com  *.api.example.com
            wild.pem [ciphers ECDHE-RSA-AES128-GCM-SHA256]*.example.com !secure.example.com
            last.pem\tone.test
            """)
        #expect(parsed.errors.isEmpty && parsed.warnings.isEmpty)
        #expect(parsed.lines.map(\.number) == [3, 5, 6, 7])
        #expect(parsed.lines.map(\.path) == ["site.pem", "api.pem", "wild.pem", "last.pem"])
        #expect(parsed.lines[1].options == ["alpn", "h2,http/1.1", "ssl-min-ver", "TLSv1.3"])
        #expect(parsed.lines[1].filters == ["api.example.com", "*.api.example.com"])
        #expect(parsed.lines[2].options == ["ciphers", "ECDHE-RSA-AES128-GCM-SHA256"])
        #expect(parsed.lines[2].filters == ["*.example.com", "!secure.example.com"])
        #expect(parsed.lines[3].options.isEmpty && parsed.lines[3].filters == ["one.test"])
    }

    @Test func malformedLinesAreErrorsWithTheirNumbers() {
        let parsed = lines("""
            a.pem [alpn h2
            [alpn h2] b.pem
            c.pem [alpn h2]] x.test
            d.pem [alpn [h2]]
            e.pem x.test [alpn h2]
            """)
        #expect(parsed.errors == ["1: missing ']'", "2: a line must start with a certificate path, not '['",
                                  "3: too many ']'", "4: too many '['"])
        #expect(parsed.warnings == ["5: SNI filters before the bracketed options; write them after the options"])
        #expect(parsed.lines.map(\.path) == ["e.pem"])
        #expect(parsed.lines.first?.filters == ["x.test"] && parsed.lines.first?.options == ["alpn", "h2"])
    }

    @Test func bindCrtListEntriesFollowCrtBaseAndCarryTheirOptions() throws {
        let path = try listFile("""
            # certificates
            site.pem
            /abs/api.pem [alpn http/1.1 curves X25519 sigalgs ECDSA+SHA256 ssl-max-ver TLSv1.2] API.example.com
            wild.pem *.example.com !secure.example.com
            """)
        defer { unlink(path) }
        let c = try #require(config("""
            global
             crt-base /etc/weir/certs
            \(timeoutDefaults)
            frontend fe
             bind :443 ssl crt first.pem crt-list \(path) alpn h2,http/1.1
             default_backend be
            backend be

            """))
        let tls = try #require(c.frontends[0].binds[0].tls)
        #expect(tls.certificates.map(\.path)
                == ["/etc/weir/certs/first.pem", "/etc/weir/certs/site.pem", "/abs/api.pem", "/etc/weir/certs/wild.pem"])
        #expect(tls.certificates.map(\.origin) == [nil, "\(path):2", "\(path):3", "\(path):4"])
        #expect(tls.certificates[1].location == tls.certificates[2].location)
        #expect(tls.certificates[1].location == SourceLocation(file: "t.cfg", line: 9, column: 39))
        let api = tls.certificates[2]
        #expect(api.sniFilters == ["api.example.com"])
        #expect(api.options.alpn == ["http/1.1"] && api.options.curves == "X25519" && api.options.sigalgs == "ECDSA+SHA256")
        #expect(api.options.maxVersion == .tls12 && api.options.minVersion == nil)
        let effective = tls.applying(api.options)
        #expect(effective.alpn == ["http/1.1"] && tls.alpn == ["h2", "http/1.1"])
        #expect(tls.certificates[3].sniFilters == ["*.example.com", "!secure.example.com"])
        #expect(tls.certificates[1].options == BindTLS.Options() && tls.certificates[1].sniFilters.isEmpty)
    }

    @Test func crtListErrorsNameTheListLineAtTheBindArgument() throws {
        let path = try listFile("""
            good.pem
            a.pem [ca-verify-file ca.pem]
            b.pem [bogus 1]
            c.pem [alpn]
            d.pem [ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.2]
            e.pem [ssl-min-ver TLSv9]
            f.pem [curves X25519::P-256]
            g.pem [alpn h2
            h.pem !
            i.pem [alpnn h2]
            """)
        defer { unlink(path) }
        let result = parse("frontend fe\n bind :443 ssl crt-list \(path)\n default_backend be\nbackend be\n")
        let at = "t.cfg:2:25: error: \(path)"
        #expect(messages(result) == [
            "\(at):2: 'ca-verify-file' in a crt-list is not supported by Weir yet",
            "\(at):3: unknown crt-list option 'bogus'",
            "\(at):4: 'alpn' expects a value inside the brackets",
            "\(at):5: 'ssl-min-ver TLSv1.3' is above 'ssl-max-ver TLSv1.2'",
            "\(at):6: 'ssl-min-ver' expects TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3, got 'TLSv9'",
            "\(at):7: 'curves' expects a colon-separated list like 'X25519:P-256'",
            "\(at):8: missing ']'",
            "\(at):9: '!' is not an SNI filter: expected a name, '*.domain' or '!name'",
            "\(at):10: unknown crt-list option 'alpnn'; did you mean 'alpn'?",
        ])
        #expect(messages(parse("frontend fe\n bind :443 ssl crt-list /nonexistent/list.txt\n default_backend be\nbackend be\n"))
                == ["t.cfg:2:25: error: bind: crt-list: cannot read '/nonexistent/list.txt': No such file or directory"])
        let empty = try listFile("# nothing\n\n")
        defer { unlink(empty) }
        #expect(messages(parse("frontend fe\n bind :443 ssl crt-list \(empty)\n default_backend be\nbackend be\n"))
                == ["t.cfg:2:25: error: bind: crt-list '\(empty)' names no certificate"])
    }

    @Test func crtListVerifyTakesItsOwnOrTheBindLinesCAFile() throws {
        let path = try listFile("""
            a.pem [verify required ca-file a-ca.pem crl-file a.crl] a.test
            b.pem [verify optional] b.test
            c.pem [verify none] c.test
            d.pem
            """)
        defer { unlink(path) }
        let c = try #require(config("""
            global
             ca-base /etc/ca
            \(timeoutDefaults)
            frontend fe
             bind :443 ssl crt-list \(path) ca-file bind-ca.pem
             default_backend be
            backend be
            """))
        let tls = try #require(c.frontends[0].binds[0].tls)
        let a = tls.applying(tls.certificates[0].options).clientVerification
        #expect(a.mode == .required && a.caFile?.path == "/etc/ca/a-ca.pem" && a.crlFile?.path == "/etc/ca/a.crl")
        let b = tls.applying(tls.certificates[1].options).clientVerification
        #expect(b.mode == .optional && b.caFile?.path == "/etc/ca/bind-ca.pem")
        #expect(tls.applying(tls.certificates[2].options).clientVerification.mode == .none)
        #expect(tls.applying(tls.certificates[3].options).clientVerification.mode == .none)
    }

    @Test func crtListVerifyErrors() throws {
        let path = try listFile("""
            a.pem [verify required] a.test
            b.pem [verify sometimes ca-file ca.pem]
            c.pem [verify requird ca-file ca.pem]
            d.pem [ca-file]
            e.pem [verify optional ca-file ca.pem] e.test
            """)
        defer { unlink(path) }
        let result = parse("frontend fe\n bind :443 ssl crt-list \(path)\n default_backend be\nbackend be\n")
        let at = "t.cfg:2:25: error: \(path)"
        #expect(messages(result) == [
            "\(at):2: 'verify' expects none, optional or required, got 'sometimes'",
            "\(at):3: 'verify' expects none, optional or required, got 'requird'; did you mean 'required'?",
            "\(at):4: 'ca-file' expects a value inside the brackets",
            "\(at):1: verify is enabled but no CA file specified: 'verify required' needs 'ca-file FILE' "
                + "on the line or on the bind line",
        ])
    }

    @Test func curvesSigalgsAndFlagsOnTheBindLineAndInGlobal() throws {
        let c = try #require(config("""
            global
             ssl-default-bind-curves X25519:P-256
             ssl-default-bind-sigalgs ECDSA+SHA256:RSA-PSS+SHA256
             ssl-default-bind-options no-tls-tickets
             ssl-dh-param-file /etc/weir/dh.pem
            \(timeoutDefaults)
            frontend fe
             bind :443 ssl crt a.pem
             bind :444 ssl crt a.pem curves P-384 sigalgs RSA+SHA256 prefer-client-ciphers
             default_backend be
            backend be

            """))
        let first = try #require(c.frontends[0].binds[0].tls)
        #expect(first.curves == "X25519:P-256" && first.sigalgs == "ECDSA+SHA256:RSA-PSS+SHA256")
        #expect(first.noTLSTickets && !first.preferClientCiphers)
        #expect(first.optionLocations["curves"] == SourceLocation(file: "t.cfg", line: 2, column: 26))
        let second = try #require(c.frontends[0].binds[1].tls)
        #expect(second.curves == "P-384" && second.sigalgs == "RSA+SHA256")
        #expect(second.noTLSTickets && second.preferClientCiphers)
        #expect(second.optionLocations["curves"] == SourceLocation(file: "t.cfg", line: 13, column: 33))
        #expect(c.global.dhParamFile == "/etc/weir/dh.pem")
        #expect(c.global.dhParamFileLocation == SourceLocation(file: "t.cfg", line: 5, column: 20))
        #expect(errors("frontend fe\n bind :443 ssl crt a.pem curves X25519:\n default_backend be\nbackend be\n")
                == ["t.cfg:2:33: error: bind: 'curves' expects a colon-separated list like 'X25519:P-256'"])
        #expect(errors("global\n ssl-dh-param-file\n") == ["t.cfg:2:2: error: ssl-dh-param-file: expected a value"])
    }
}
