import Testing
@testable import WeirConfig

@Suite("no-tlsv1x and force-tlsv1x")
struct TLSVersionToggleTests {
    @Test func resolvingFollowsHAProxy() {
        typealias T = TLSVersionToggle
        #expect(T.resolve(min: nil, max: nil, disabled: [.tls10, .tls11]) == .range(min: nil, max: nil))
        #expect(T.resolve(min: nil, max: nil, disabled: [.tls13]) == .range(min: nil, max: .tls12))
        #expect(T.resolve(min: nil, max: nil, disabled: [.tls12]) == .range(min: .tls13, max: nil))
        #expect(T.resolve(min: nil, max: nil, disabled: [.tls12, .tls13]) == .allDisabled)
        // An explicit bound wins; only the flags it overrules are worth a warning.
        #expect(T.resolve(min: .tls12, max: nil, disabled: [.tls10]) == .range(min: .tls12, max: nil))
        #expect(T.resolve(min: .tls12, max: nil, disabled: [.tls13]) == .flagsIgnored([.tls13], min: .tls12, max: nil))
    }

    @Test func bindLinesAndGlobalDefaults() throws {
        let c = try #require(config(timeoutDefaults + """
            global
                ssl-default-bind-options no-sslv3 no-tlsv10 no-tlsv11 no-tlsv13
                ssl-default-server-options force-tlsv12
            frontend fe
                bind :443 ssl crt /etc/site.pem
                bind :444 ssl crt /etc/site.pem force-tlsv13
                bind :445 ssl crt /etc/site.pem force-tlsv10 ssl-max-ver TLSv1.1
                default_backend be
            backend be
                default-server ssl verify none
                server s1 10.0.0.1:443
                server s2 10.0.0.2:443 force-tlsv13
                server s3 10.0.0.3:443 ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.3
            """))
        let binds = c.frontends[0].binds.compactMap(\.tls)
        #expect(binds.map(\.minVersion) == [nil, .tls13, .tls10])
        #expect(binds.map(\.maxVersion) == [.tls12, .tls13, .tls11])
        let servers = c.backends[0].servers.map(\.tls)
        #expect(servers.map(\.minVersion) == [.tls12, .tls13, .tls13])
        #expect(servers.map(\.maxVersion) == [.tls12, .tls13, .tls13])
    }

    @Test func mistakesAndIgnoredFlags() {
        let text = timeoutDefaults + """
            frontend fe
                bind :443 ssl crt /etc/site.pem force-sslv3
                bind :444 ssl crt /etc/site.pem no-tlsv12 no-tlsv13
                bind :445 ssl crt /etc/site.pem ssl-min-ver TLSv1.2 no-tlsv13
                bind :446 no-tlsv12
                bind :447 ssl crt /etc/site.pem no-tlsv14
                default_backend be
            backend be
                server s1 10.0.0.1:443 ssl verify none no-tlsv13 no-tlsv12
                server s2 10.0.0.2:443 ssl verify none force-tlsv12 no-tlsv12
                server s3 10.0.0.3:443 ssl verify none force-sslv3
            global
                ssl-default-bind-options force-sslv3
            """
        #expect(errors(text).filter { !$0.contains("cannot read") } == [
            "t.cfg:6:37: error: bind: 'force-sslv3' cannot be honoured: this system's OpenSSL has no SSLv3 "
                + "(nor should it: SSLv3 is broken); use 'ssl-min-ver TLSv1.2'",
            "t.cfg:7:37: error: bind: all SSL/TLS versions are disabled ('no-tlsv12', 'no-tlsv13')",
            "t.cfg:10:37: error: unsupported bind option 'no-tlsv14'; did you mean 'no-tlsv10'?",
            "t.cfg:15:44: error: server: 'force-sslv3' cannot be honoured: this system's OpenSSL has no "
                + "SSLv3 (nor should it: SSLv3 is broken); use 'ssl-min-ver TLSv1.2'",
            "t.cfg:17:30: error: ssl-default-bind-options: 'force-sslv3' cannot be honoured: this system's OpenSSL "
                + "has no SSLv3 (nor should it: SSLv3 is broken); use 'ssl-min-ver TLSv1.2'",
            "t.cfg:13:28: error: server 'be/s1': all SSL/TLS versions are disabled ('no-tlsv12', 'no-tlsv13')",
        ])
        #expect(warnings(text) == [
            "t.cfg:8:57: warning: bind: 'no-tlsv13' ignored: 'ssl-min-ver' or 'ssl-max-ver' (or a 'force-*' option) "
                + "sets the versions, as in HAProxy; use only those",
            "t.cfg:9:15: warning: bind: 'no-tlsv12' has no effect without 'ssl' on the same line",
            "t.cfg:14:28: warning: server 'be/s2': 'no-tlsv12' ignored: 'ssl-min-ver' or 'ssl-max-ver' (or a "
                + "'force-*' option) sets the versions, as in HAProxy; use only those",
        ])
    }
}
