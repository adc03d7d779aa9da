import Testing
import WeirConfig
@testable import WeirProxy

@Suite struct LineBufferTests {
    private func text(_ buffer: borrowing LineBuffer) -> String {
        String(decoding: UnsafeBufferPointer(start: buffer.bytes, count: buffer.count), as: UTF8.self)
    }

    @Test(arguments: [Int64(0), 7, -1, 42, -1234, 1_000_000, Int64.max])
    func decimalsMatchSwiftsFormatting(_ value: Int64) {
        var buffer = LineBuffer(capacity: 64)
        buffer.append(decimal: value)
        #expect(text(buffer) == String(value))
    }

    @Test func paddedFieldsAndTruncationAtCapacity() {
        var buffer = LineBuffer(capacity: 8)
        buffer.append(twoDigits: 5)
        buffer.append(threeDigits: 42)
        buffer.append(ascii: "abcdef")
        #expect(text(buffer) == "05042abc", "appends stop at capacity instead of overflowing")
    }
}

@Suite struct LocalResponseTests {
    @Test func encodesACompleteHTTPResponse() {
        var frontend = Frontend(name: "web", location: SourceLocation(file: "t.cfg", line: 1, column: 1))
        frontend.localResponse = LocalResponse(status: 200, contentType: "text/plain", body: Array("hi\n".utf8))
        let runtime = FrontendRuntime(frontend)
        let encoded = String(decoding: runtime.localResponse ?? [], as: UTF8.self)
        #expect(encoded == "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 3\r\nconnection: close\r\n\r\nhi\n")
    }

    @Test func routesToTheFirstAlwaysTrueRuleBeforeTheDefault() {
        let location = SourceLocation(file: "t.cfg", line: 1, column: 1)
        var frontend = Frontend(name: "fe", location: location)
        frontend.defaultBackend = 0
        frontend.useBackends = [BackendRule(backend: 1, condition: .never, location: location),
                                BackendRule(backend: 2, condition: .always, location: location)]
        #expect(FrontendRuntime(frontend).backend == 2)
        frontend.useBackends.removeLast()
        #expect(FrontendRuntime(frontend).backend == 0)
    }
}
