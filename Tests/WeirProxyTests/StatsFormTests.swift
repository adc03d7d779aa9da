import Testing
@testable import WeirProxy

@Suite struct StatsFormTests {
    @Test(arguments: [
        ("s1", "s1"), ("%23%32", "#2"), ("a+b", "a b"), ("100%25", "100%"), ("bad%2", "bad%2"), ("%zz", "%zz"), ("", ""),
    ])
    func formValuesAreDecoded(_ encoded: String, _ decoded: String) {
        #expect(Worker.formDecode(ArraySlice(Array(encoded.utf8))) == decoded)
    }
}
