import Testing
import WeirBalance
import WeirConfig
@testable import WeirProxy

/// The bytes `balance uri|url_param|hash` hash, cut as HAProxy 2.6 cuts them.
@Suite("balance: content keys")
struct ContentKeyTests {
    private func uri(_ text: String, whole: Bool = false, length: Int = 0, depth: Int = 0) -> String {
        var text = text
        return text.withUTF8 { bytes in
            String(decoding: ContentKey.uri(UnsafeRawBufferPointer(bytes), whole: whole, length: length, depth: depth),
                   as: UTF8.self)
        }
    }

    /// `lookup` of `name` in `text`, both as raw bytes; what it found, as a string.
    private func find(_ name: String, in text: String,
                      _ lookup: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> UnsafeRawBufferPointer?) -> String? {
        var name = name
        var text = text
        return name.withUTF8 { name in
            text.withUTF8 { text in
                lookup(UnsafeRawBufferPointer(name), UnsafeRawBufferPointer(text)).map { String(decoding: $0, as: UTF8.self) }
            }
        }
    }

    private func parameter(_ name: String, _ query: String) -> String? {
        find(name, in: query) { ContentKey.urlParameter($0, in: $1) }
    }

    @Test func mainDomainIsTheLabelBeforeTheTopLevelOne() {
        func domain(_ text: String) -> String {
            var text = text
            return text.withUTF8 { String(decoding: ContentKey.mainDomain(UnsafeRawBufferPointer($0)), as: UTF8.self) }
        }
        #expect(domain("haproxy.1wt.eu") == "1wt")
        #expect(domain("www.shop.example.com") == "example")
        #expect(domain("example.com") == "example")
        #expect(domain("localhost") == "localhost")
        #expect(domain(".com") == "")
    }

    @Test func postParameterIsReadFromAFormBodyOnly() {
        func post(_ name: String, _ body: String) -> String? { find(name, in: body) { ContentKey.postParameter($0, in: $1) } }
        #expect(post("uid", "a=1&uid=u%2042&b=2") == "u%2042")
        #expect(post("uid", "uid=7") == "7")
        #expect(post("uid", "xuid=7&uid=8") == "8")
        #expect(post("uid", "uid=7 trailing") == "7")
        #expect(post("uid", "uid=") == "")
        #expect(post("uid", "uid={\"json\":1}") == nil, "not a form")
        #expect(post("uid", "a=1&b=2") == nil)
        #expect(post("uid", "uid") == nil)
    }

    @Test func uriStopsAtTheQueryUnlessWhole() {
        #expect(uri("/a/b/c?x=1") == "/a/b/c")
        #expect(uri("/a/b/c?x=1", whole: true) == "/a/b/c?x=1")
        #expect(uri("/") == "/")
        #expect(uri("") == "")
        #expect(uri("*") == "*")
    }

    @Test func uriLengthAndDepth() {
        #expect(uri("/a/b/c?x=1", length: 4) == "/a/b")
        #expect(uri("/a/b/c?x=1", length: 100) == "/a/b/c")
        #expect(uri("/a/b/c?x=1", whole: true, length: 100) == "/a/b/c?x=1")
        // One level per slash: depth N stops before the slash opening level N+1.
        #expect(uri("/a/b/c?x=1", depth: 1) == "/a")
        #expect(uri("/a/b/c?x=1", depth: 2) == "/a/b")
        #expect(uri("/a/b/c?x=1", depth: 3) == "/a/b/c")
        #expect(uri("/a/b/c/", depth: 3) == "/a/b/c")
        #expect(uri("/a/b/c?x=1", depth: 9) == "/a/b/c")
        // Whichever limit comes first wins.
        #expect(uri("/abc/def", length: 3, depth: 1) == "/ab")
        #expect(uri("/abc/def", length: 6, depth: 1) == "/abc")
        // With `whole`, slashes in the query still count.
        #expect(uri("/a?x=/y/z", whole: true, depth: 1) == "/a?x=")
    }

    @Test func uriOfAnAbsoluteFormTargetIncludesTheAuthority() {
        #expect(uri("http://example.com/a/b?q") == "http://example.com/a/b")
        #expect(uri("http://example.com/a/b", depth: 2) == "http://example.com")
    }

    @Test func urlParameterTakesTheFirstExactName() {
        #expect(parameter("sid", "a=1&sid=xyz&b") == "xyz")
        #expect(parameter("sid", "sid=1&sid=2") == "1")
        #expect(parameter("sid", "sidx=1&xsid=3&sid=2") == "2")
        #expect(parameter("sid", "sid=") == "")
        #expect(parameter("sid", "sid=&x=1") == "")
        #expect(parameter("sid", "x=1") == nil)
        #expect(parameter("sid", "sid") == nil)
        #expect(parameter("sid", "sid&x=1") == nil)
        #expect(parameter("sid", "SID=1") == nil)
        #expect(parameter("sid", "") == nil)
        #expect(parameter("sid", "&&sid=v") == "v")
    }

    @Test func samplesHashAsHAProxyCastsThemToBinary() {
        func binary(_ value: SampleValue) -> [UInt8]? { ContentKey.withBinary(value) { Array($0) } }
        #expect(binary(.none) == nil)
        #expect(binary(.integer(1)) == [0, 0, 0, 0, 0, 0, 0, 1])
        #expect(binary(.integer(-2)) == [255, 255, 255, 255, 255, 255, 255, 254])
        #expect(binary(.boolean(true)) == [0, 0, 0, 0, 0, 0, 0, 1])
        #expect(binary(.address(IPValue(high: 0, low: 0x7f00_0001, isV6: false))) == [127, 0, 0, 1])
        #expect(binary(.address(IPValue(high: 0x2001_0db8_0000_0000, low: 1, isV6: true)))
                == [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        let text: StaticString = "abc"
        #expect(binary(.bytes(UnsafeRawBufferPointer(start: text.utf8Start, count: 3))) == Array("abc".utf8))
    }

    @Test func hashTypeChoosesTheTableOrTheRing() {
        let consistent = HashType(method: .consistent, function: .djb2, avalanche: true)
        let uri = BalanceHashing(balance: .uri(whole: false, length: nil, depth: nil), hashType: consistent)
        #expect(uri.algorithm == .consistentHash)
        #expect(uri.function == .djb2 && uri.avalanche)
        #expect(BalanceHashing(balance: .source, hashType: consistent).algorithm == .consistentHash)
        #expect(BalanceHashing(balance: .source, hashType: HashType()).algorithm == .source)
        #expect(BalanceHashing(balance: .header("X-User"), hashType: HashType()).algorithm == .source)
        #expect(BalanceHashing(balance: .roundRobin, hashType: consistent).algorithm == .roundRobin)
        #expect(BalanceHashing(balance: .leastConn, hashType: consistent).algorithm == .leastConn)
        let none = BalanceHashing(balance: .urlParam("id"), hashType: HashType(method: .mapBased, function: .none))
        #expect(none.function == .identity && !none.avalanche)
        var key = "42"
        #expect(key.withUTF8 { none.hash(UnsafeRawBufferPointer($0)) } == 42)
        // The default function is sdbm, as in HAProxy.
        let sdbm = BalanceHashing(balance: .hash(Sample(fetch: .path)), hashType: HashType())
        #expect(sdbm.function == .sdbm)
        if case .header(let name, false) = BalanceHashing(balance: .header("X-User"), hashType: HashType()).key {
            #expect(name == Array("x-user".utf8))
        } else {
            Issue.record("hdr(X-User) keys on a header")
        }
    }
}
