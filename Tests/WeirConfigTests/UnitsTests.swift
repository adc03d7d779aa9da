import Testing
@testable import WeirConfig

@Suite struct UnitsTests {
    @Test(arguments: [
        ("0", 0), ("250", 250), ("250ms", 250), ("5s", 5000), ("2m", 120_000), ("1h", 3_600_000),
        ("1d", 86_400_000), ("1000us", 1), ("1us", 1), ("1500us", 2), ("0us", 0), ("24d", 2_073_600_000),
    ])
    func durations(text: String, ms: Int) throws {
        #expect(try Units.duration(text).get() == ms)
    }

    @Test func badDurations() {
        #expect(throws: Units.DurationError.invalid) { try Units.duration("5x").get() }
        #expect(throws: Units.DurationError.invalid) { try Units.duration("s").get() }
        #expect(throws: Units.DurationError.invalid) { try Units.duration("").get() }
        #expect(throws: Units.DurationError.invalid) { try Units.duration("-5s").get() }
        #expect(throws: Units.DurationError.tooLarge) { try Units.duration("25d").get() }
        #expect(throws: Units.DurationError.tooLarge) { try Units.duration("99999999999999999999").get() }
    }

    @Test func sizes() {
        #expect(Units.size("16384") == 16384)
        #expect(Units.size("16k") == 16384)
        #expect(Units.size("16K") == 16384)
        #expect(Units.size("2m") == 2 << 20)
        #expect(Units.size("1g") == 1 << 30)
        #expect(Units.size("1t") == nil)
        #expect(Units.size("k") == nil)
        #expect(Units.size("1.5k") == nil)
    }

    @Test func versions() {
        #expect(Units.version("2.4.1") == [2, 4, 1])
        #expect(Units.version("2.9-dev3") == [2, 9])
        #expect(Units.version("x.1") == nil)
        #expect(Units.compareVersions([0, 1], [0, 1, 0]) == 0)
        #expect(Units.compareVersions([0, 1], [0, 2]) == -1)
        #expect(Units.compareVersions([1], [0, 9, 9]) == 1)
    }
}
