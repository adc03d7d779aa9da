// `stick-table` and the `stick` rules: persistence of a client to a server
// through a table in shared memory.

/// The type of a stick table's keys.
public enum StickKeyType: String, Sendable, Hashable {
    /// IPv4 addresses (an IPv4-mapped IPv6 address counts as its IPv4 one).
    case ip
    /// IPv6 addresses (IPv4 ones are stored mapped, `::ffff:a.b.c.d`).
    case ipv6
    /// Signed 64-bit integers.
    case integer
    /// Strings of at most `len` bytes (32 by default).
    case string
    /// Bytes, `len` of them (32 by default): shorter samples are padded
    /// with zeros, integers stored as 8 bytes and addresses as 4 or 16.
    case binary
}

/// `stick-table type T [len N] size N [expire T] [nopurge] [store …]`.
public struct StickTableSpec: Sendable, Hashable {
    public var type: StickKeyType
    /// A string or binary key's most bytes (`len`); longer keys are cut there.
    public var length = 32
    public var size: Int
    /// Milliseconds an entry lives after its last store; nil: forever.
    public var expire: Int?
    public var noPurge = false
    /// Data types stored (`server_id`; `stick` rules store it anyway), in
    /// the order written.
    public var stores: [StickStore] = []
    public var location: SourceLocation

    public init(type: StickKeyType, size: Int, location: SourceLocation) {
        self.type = type
        self.size = size
        self.location = location
    }

    /// The most bytes Weir keeps for a string or binary key.
    public static let maxStringLength = 64
}

/// A data type a stick table stores (`store` in `stick-table`), in
/// HAProxy's order, the order `show table` prints them in.
public enum StickDataType: String, Sendable, Hashable, CaseIterable {
    case serverID = "server_id"
    case gpt0
    case gpc0
    case gpc0Rate = "gpc0_rate"
    case connCount = "conn_cnt"
    case connRate = "conn_rate"
    case connCurrent = "conn_cur"
    case sessionCount = "sess_cnt"
    case sessionRate = "sess_rate"
    case httpRequestCount = "http_req_cnt"
    case httpRequestRate = "http_req_rate"
    case httpErrorCount = "http_err_cnt"
    case httpErrorRate = "http_err_rate"
    case bytesInCount = "bytes_in_cnt"
    case bytesOutCount = "bytes_out_cnt"
    case gpc1

    /// Its position in `allCases` (a switch: nothing allocated).
    public var index: Int {
        switch self {
        case .serverID: return 0
        case .gpt0: return 1
        case .gpc0: return 2
        case .gpc0Rate: return 3
        case .connCount: return 4
        case .connRate: return 5
        case .connCurrent: return 6
        case .sessionCount: return 7
        case .sessionRate: return 8
        case .httpRequestCount: return 9
        case .httpRequestRate: return 10
        case .httpErrorCount: return 11
        case .httpErrorRate: return 12
        case .bytesInCount: return 13
        case .bytesOutCount: return 14
        case .gpc1: return 15
        }
    }

    /// A frequency counter over a period, written `name(period)`.
    public var isRate: Bool { rawValue.hasSuffix("_rate") }

    /// HAProxy's data types Weir does not store yet.
    static let unsupported: Set<String> = [
        "bytes_in_rate", "bytes_out_rate", "gpc1_rate", "gpt", "gpc", "gpc_rate", "http_fail_cnt", "http_fail_rate",
        "server_key", "server_name",
    ]
}

/// One item of a `store` list: a data type, and a rate's period in milliseconds (0 otherwise).
public struct StickStore: Sendable, Hashable, CustomStringConvertible {
    public var type: StickDataType
    public var period: Int

    public init(type: StickDataType, period: Int = 0) {
        self.type = type
        self.period = period
    }

    /// As `show table` names it: `http_req_rate(10000)`.
    public var description: String { type.isRate ? "\(type.rawValue)(\(period))" : type.rawValue }
}

/// One `stick on|match|store-request|store-response` line.
public struct StickRule: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case on
        case match
        case storeRequest = "store-request"
        case storeResponse = "store-response"

        /// Whether the rule looks the key up before balancing.
        public var matches: Bool { self == .on || self == .match }
        /// Whether the rule stores the key with the request's server.
        public var storesRequest: Bool { self == .on || self == .storeRequest }
    }

    public var kind: Kind
    public var sample: Sample
    /// `table NAME`, as written; nil: the backend's own.
    public var tableName: String?
    /// The backend whose table the rule uses, resolved after parsing.
    public var table = -1
    public var condition: Condition
    public var location: SourceLocation

    public init(kind: Kind, sample: Sample, tableName: String?, condition: Condition, location: SourceLocation) {
        self.kind = kind
        self.sample = sample
        self.tableName = tableName
        self.condition = condition
        self.location = location
    }
}

extension ParserState {
    // MARK: stick-table

    mutating func parseStickTable(_ words: [Word]) {
        guard let index = proxyIndex else { return }
        if proxies[index].stickTable != nil {
            error("stick-table: only one table per section", at: words[0])
            return
        }
        var type: StickKeyType?
        var length: Int?
        var size: Int?
        var expire: Int?
        var noPurge = false
        var stores: [StickStore] = []
        var i = 1
        let options = ["type", "len", "size", "expire", "nopurge", "store"]
        while i < words.count {
            let w = words[i]
            func value() -> Word? {
                guard i + 1 < words.count else {
                    error("stick-table: '\(w.text)' expects a value", at: w)
                    return nil
                }
                return words[i + 1]
            }
            switch w.text {
            case "type":
                guard let v = value() else { return }
                guard let t = StickKeyType(rawValue: v.text) else {
                    error("stick-table: unknown type '\(v.text)'; expected ip, ipv6, integer, string or binary"
                          + Keywords.didYouMean(v.text, among: ["ip", "ipv6", "integer", "string", "binary"]).replacingDidYouMean(),
                          at: v)
                    return
                }
                type = t
                i += 2
                if t == .string || t == .binary, i < words.count, words[i].text == "len" {
                    guard let n = integer(words, i + 1, keyword: "stick-table len", range: 1...65535,
                                          anchor: words[i]) else { return }
                    if n > StickTableSpec.maxStringLength {
                        warning("stick-table len: Weir keeps at most \(StickTableSpec.maxStringLength) bytes of a \(t) key; "
                                + "longer keys are cut there", at: words[i + 1])
                    }
                    length = min(n, StickTableSpec.maxStringLength)
                    i += 2
                }
            case "len":
                error("stick-table: 'len' goes right after 'type string' or 'type binary'", at: w)
                return
            case "size":
                guard let v = value() else { return }
                guard let n = Units.size(v.text), n >= 1 else {
                    error("stick-table size: expected a number of entries, as in 100k, got '\(v.text)'", at: v)
                    return
                }
                if n > 1 << 24 {
                    warning("stick-table size: Weir holds at most 16m entries in a table; this one gets 16m", at: v)
                }
                size = min(n, 1 << 24)
                i += 2
            case "expire":
                guard let ms = duration(words, i + 1, keyword: "stick-table expire") else { return }
                expire = ms > 0 ? ms : nil
                i += 2
            case "nopurge":
                noPurge = true
                i += 1
            case "store":
                guard let v = value() else { return }
                guard let parsed = storeList(v) else { return }
                for item in parsed where !stores.contains(where: { $0.type == item.type }) { stores.append(item) }
                i += 2
            case "peers":
                guard let v = value() else { return }
                peersReferences.append((v.text, location(v)))
                i += 2
            case "srvkey", "write-to", "recv-only":
                error("stick-table: '\(w.text)' is not supported by Weir yet", at: w)
                return
            default:
                error("stick-table: unexpected '\(w.text)'; expected type, size, expire, nopurge or store"
                      + Keywords.didYouMean(w.text, among: options).replacingDidYouMean(), at: w)
                return
            }
        }
        guard let type else {
            error("stick-table: missing 'type' (ip, ipv6, integer, string or binary)", at: words[0])
            return
        }
        guard let size else {
            error("stick-table: missing 'size', as in 'size 100k'", at: words[0])
            return
        }
        var spec = StickTableSpec(type: type, size: size, location: location(words[0]))
        if let length { spec.length = length }
        spec.expire = expire
        spec.noPurge = noPurge
        spec.stores = stores
        proxies[index].stickTable = spec
    }

    /// `store a,b(period),…`: each data type, with a rate's period.
    private mutating func storeList(_ word: Word) -> [StickStore]? {
        var result: [StickStore] = []
        let names = StickDataType.allCases.map(\.rawValue)
        for item in word.text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            var name = item
            var period: String?
            if let open = item.firstIndex(of: "(") {
                guard item.hasSuffix(")") else {
                    error("stick-table store: missing ')' in '\(item)'", at: word)
                    return nil
                }
                name = String(item[..<open])
                period = String(item[item.index(after: open)..<item.index(before: item.endIndex)])
            }
            guard let type = StickDataType(rawValue: name) else {
                if name.isEmpty {
                    error("stick-table store: empty data type in '\(word.text)'", at: word)
                } else if StickDataType.unsupported.contains(name) {
                    error("stick-table store: data type '\(name)' is not supported by Weir yet", at: word)
                } else {
                    error("stick-table store: unknown data type '\(name)'"
                          + Keywords.didYouMean(name, among: names).replacingDidYouMean(), at: word)
                }
                return nil
            }
            if type.isRate {
                guard let period, !period.isEmpty else {
                    error("stick-table store: '\(name)' needs a period, as in \(name)(10s)", at: word)
                    return nil
                }
                guard case .success(let ms) = Units.duration(period), ms > 0 else {
                    error("stick-table store: '\(name)': expected a period like 10s, got '\(period)'", at: word)
                    return nil
                }
                result.append(StickStore(type: type, period: ms))
            } else {
                if period != nil {
                    error("stick-table store: '\(name)' takes no period", at: word)
                    return nil
                }
                result.append(StickStore(type: type))
            }
        }
        return result
    }

    // MARK: stick

    mutating func parseStick(_ words: [Word]) {
        guard let index = proxyIndex else { return }
        let kinds = ["on", "match", "store-request", "store-response"]
        guard words.count > 1 else {
            error("stick: expected on, match, store-request or store-response", at: words[0])
            return
        }
        guard let kind = StickRule.Kind(rawValue: words[1].text) else {
            error("stick: unknown rule '\(words[1].text)'; expected on, match, store-request or store-response"
                  + Keywords.didYouMean(words[1].text, among: kinds).replacingDidYouMean(), at: words[1])
            return
        }
        let context = "stick \(kind.rawValue)"
        guard words.count > 2 else {
            error("\(context): expected a sample expression, as in 'stick \(kind.rawValue) src'", at: words[1])
            return
        }
        guard let parsed = sampleValue(words[2], context: context,
                                       maximum: kind == .storeResponse ? .response : .request) else { return }
        var tableName: String?
        var i = 3
        if i < words.count, words[i].text == "table" {
            guard i + 1 < words.count else {
                error("\(context): 'table' expects a backend name", at: words[i])
                return
            }
            tableName = words[i + 1].text
            i += 2
        }
        var condition = Condition.always
        if i < words.count {
            guard words[i].text == "if" || words[i].text == "unless" else {
                error("\(context): unexpected '\(words[i].text)'; expected 'table', 'if' or 'unless'", at: words[i])
                return
            }
            guard let c = self.condition(words[i...], keyword: context) else { return }
            condition = c
        }
        let at = tableName != nil ? location(words[4]) : location(words[0])
        proxies[index].stickRules.append(StickRule(kind: kind, sample: parsed.sample, tableName: tableName,
                                                   condition: condition, location: at))
    }
}
