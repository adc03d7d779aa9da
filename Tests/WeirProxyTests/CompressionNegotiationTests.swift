import Testing
@testable import WeirProxy

/// The pieces of `compression` negotiation HAProxy defines byte by byte.
@Suite struct CompressionNegotiationTests {
    func parse(_ element: String) -> (String, Int) {
        Array(element.utf8).withUnsafeBytes { bytes in
            let (token, q) = Worker.codingAndQValue(bytes)
            return (String(decoding: token, as: UTF8.self), q)
        }
    }

    @Test func codingsAndQValues() {
        #expect(parse("gzip") == ("gzip", 1000))
        #expect(parse("gzip;q=0.5") == ("gzip", 500))
        #expect(parse("deflate ; level=1 ; q=0.25") == ("deflate", 250))
        #expect(parse("br;Q=1.000") == ("br", 1000))
        #expect(parse("*;q=0") == ("*", 0))
        #expect(parse("gzip;q=") == ("gzip", 0))
        #expect(parse("gzip;q=2") == ("gzip", 0))
        #expect(parse("gzip;q=0.0005") == ("gzip", 0))
    }

    @Test func oldBrowsers() {
        func old(_ agent: String) -> Bool { Array(agent.utf8).withUnsafeBytes { Worker.isOldBrowser($0) } }
        #expect(old("Mozilla/4.0 (compatible; Netscape)"))
        #expect(old("Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)"))
        #expect(old("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)"))
        #expect(!old("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)"))
        #expect(!old("Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)"))
        #expect(!old("Mozilla/5.0 (X11; Linux x86_64)"))
        #expect(!old("curl/8.5.0"))
    }

    @Test func etags() {
        func valid(_ tag: String) -> Bool { Array(tag.utf8).withUnsafeBytes { Worker.isValidETag($0) } }
        #expect(valid("\"abc\""))
        #expect(valid("W/\"abc\""))
        #expect(valid("\"\""))
        #expect(!valid("abc"))
        #expect(!valid("W/abc"))
        #expect(!valid("\"abc"))
        #expect(!valid("\""))
    }
}
