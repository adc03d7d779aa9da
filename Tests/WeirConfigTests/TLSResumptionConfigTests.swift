import Testing
@testable import WeirConfig

@Suite("TLS resumption keywords")
struct TLSResumptionConfigTests {
    @Test func noTLSTicketsOnABind() throws {
        let c = try #require(config(timeoutDefaults + """
            frontend fe
             bind :443 ssl crt /a.pem no-tls-tickets
             bind :444 ssl crt /a.pem
             default_backend be
            backend be

            """))
        #expect(c.frontends[0].binds[0].tls?.noTLSTickets == true)
        #expect(c.frontends[0].binds[1].tls?.noTLSTickets == false)
        #expect(warnings("frontend fe\n bind :443 no-tls-tickets\n default_backend be\nbackend be\n")
                .contains("t.cfg:2:12: warning: bind: 'no-tls-tickets' has no effect without 'ssl' on the same line"))
    }

    @Test func ticketKeysFileOnABind() throws {
        let c = try #require(config(timeoutDefaults + """
            frontend fe
             bind :443 ssl crt /a.pem tls-ticket-keys /etc/weir/tickets.keys
             default_backend be
            backend be

            """))
        let keys = try #require(c.frontends[0].binds[0].tls?.ticketKeys)
        #expect(keys.path == "/etc/weir/tickets.keys" && keys.location.line == 6 && keys.location.column == 43)
        #expect(warnings("frontend fe\n bind :443 tls-ticket-keys /k\n default_backend be\nbackend be\n")
                .contains("t.cfg:2:12: warning: bind: 'tls-ticket-keys' has no effect without 'ssl' on the same line"))
        #expect(errors("frontend fe\n bind :443 ssl crt /a.pem tls-ticket-keys\n default_backend be\nbackend be\n")
                == ["t.cfg:2:27: error: bind: 'tls-ticket-keys' expects a value"])
    }

    @Test func cacheSizeAndLifetime() throws {
        let defaults = try #require(config(timeoutDefaults))
        #expect(defaults.global.sslCacheSize == 20000 && defaults.global.sslLifetime == 300)
        let c = try #require(config("global\n tune.ssl.cachesize 0\n tune.ssl.lifetime 600\n"))
        #expect(c.global.sslCacheSize == 0 && c.global.sslLifetime == 600)
        #expect(try #require(config("global\n tune.ssl.lifetime 2m\n")).global.sslLifetime == 120)
        #expect(try #require(config("global\n tune.ssl.lifetime 1500ms\n")).global.sslLifetime == 2)
        #expect(errors("global\n tune.ssl.cachesize -1\n")
                == ["t.cfg:2:21: error: tune.ssl.cachesize: expected a number between 0 and 16777216, got '-1'"])
        #expect(errors("global\n tune.ssl.lifetime 0\n")
                == ["t.cfg:2:20: error: tune.ssl.lifetime: expected between 1 second and 24 days, got '0'"])
        #expect(errors("global\n tune.ssl.lifetime soon\n")
                == ["t.cfg:2:20: error: tune.ssl.lifetime: expected a duration like 300 (seconds) or 5m, got 'soon'"])
    }
}
