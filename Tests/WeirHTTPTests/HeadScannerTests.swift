import Testing
@testable import WeirHTTP

@Suite("head scanner")
struct HeadScannerTests {
    func scanOnce(_ text: String, limits: HTTPLimits = HTTPLimits()) -> HeadScan {
        var scanner = HeadScanner()
        return Array(text.utf8).withUnsafeBytes { scanner.scan($0, limits: limits) }
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\nHost: h\r\n\r\n", 27),
        ("GET / HTTP/1.1\nHost: h\n\n", 24),
        ("GET / HTTP/1.1\r\nHost: h\n\r\n", 26),
        ("GET / HTTP/1.1\nHost: h\r\n\n", 25),
        ("GET / HTTP/1.1\r\n\r\nbody", 18),
        ("GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\n\r\n", 27),
        ("\r\n", 2),
        ("\n", 1),
    ])
    func findsTheEndOfTheHead(_ text: String, _ length: Int) {
        #expect(scanOnce(text) == .complete(length: length))
    }

    @Test(arguments: [
        "", "GET / HTTP/1.1", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: h\r\n", "GET / HTTP/1.1\r\nHost: h\r\n\r",
        "GET / HTTP/1.1\r\nX: a\r\r\n", "GET / HTTP/1.1\r\n \r\n", "\r",
    ])
    func waitsForMore(_ text: String) {
        #expect(scanOnce(text) == .incomplete)
    }

    @Test func reports414WhileInTheRequestLine() {
        let limits = HTTPLimits(maxHeadBytes: 32)
        #expect(scanOnce("GET /" + String(repeating: "a", count: 26), limits: limits) == .incomplete)
        #expect(scanOnce("GET /" + String(repeating: "a", count: 27), limits: limits) == .tooLarge(status: 414))
        #expect(scanOnce("GET /" + String(repeating: "a", count: 100), limits: limits) == .tooLarge(status: 414))
    }

    @Test func reports431OncePastTheRequestLine() {
        let limits = HTTPLimits(maxHeadBytes: 32)
        let head = "GET / HTTP/1.1\r\nX: " + String(repeating: "v", count: 13)
        #expect(head.utf8.count == 32)
        #expect(scanOnce(head, limits: limits) == .tooLarge(status: 431))
        #expect(scanOnce(String(head.dropLast()), limits: limits) == .incomplete)
    }

    @Test func acceptsAHeadOfExactlyTheLimit() {
        let head = "GET / HTTP/1.1\r\nX: " + String(repeating: "v", count: 9) + "\r\n\r\n"
        #expect(head.utf8.count == 32)
        #expect(scanOnce(head, limits: HTTPLimits(maxHeadBytes: 32)) == .complete(length: 32))
        #expect(scanOnce(head + "more", limits: HTTPLimits(maxHeadBytes: 32)) == .complete(length: 32))
        #expect(scanOnce(head, limits: HTTPLimits(maxHeadBytes: 31)) == .tooLarge(status: 431))
    }

    @Test func resumesWhereItStoppedAndResets() {
        let bytes = Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
        var scanner = HeadScanner()
        bytes.withUnsafeBytes { all in
            for end in 0..<all.count {
                #expect(scanner.scan(all.slice(0, end), limits: HTTPLimits()) == .incomplete)
            }
            #expect(scanner.scan(all, limits: HTTPLimits()) == .complete(length: all.count))
            #expect(scanner.scan(all, limits: HTTPLimits()) == .complete(length: all.count))
            scanner.reset()
            #expect(scanner.scan(all.slice(0, 10), limits: HTTPLimits()) == .incomplete)
        }
    }

    @Test(arguments: [("\r\n\r\nGET", 4), ("\n\r\nGET", 3), ("GET", 0), ("\r\n\r", 2), ("", 0), ("\r\r\n", 0)])
    func measuresLeadingEmptyLines(_ text: String, _ length: Int) {
        #expect(Array(text.utf8).withUnsafeBytes { HeadScanner.leadingEmptyLinesLength($0) } == length)
    }
}
