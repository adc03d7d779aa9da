import Testing
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
