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
        #expect(errors("frontend fe\n bind :443 no-tls-tickets\n default_backend be\nbackend be\n")
                == ["t.cfg:2:12: error: bind: 'no-tls-tickets' needs 'ssl' on the same line"])
    }
}
