// Converters: what follows a fetch in a sample expression (`hdr(host),lower`),
// and the map files `map*` reads.

/// A converter applied to a sample (`,lower`, `,map(file)`).
public enum Converter: Sendable, Hashable {
    case lower
    case upper
    /// `map`, `map_str`, `map_beg`, `map_sub`, `map_dir`, `map_dom`, `map_end`,
    /// `map_reg`, `map_int`, `map_ip`: the file is read when the configuration is.
    case map(MapTable)
    /// `field(N,DELIMITERS)`: the N-th field (1-based; negative counts from the
    /// end) between any of the delimiter characters.
    case field(index: Int, delimiters: String)
    /// `word(N,DELIMITERS)`: as field, but runs of delimiters count as one.
    case word(index: Int, delimiters: String)
    /// `regsub(REGEX,REPLACEMENT[,FLAGS])`: `g` replaces every match, `i`
    /// ignores case. The replacement may use `\1`…`\9`.
    case regsub(pattern: String, replacement: String, global: Bool, ignoreCase: Bool)
    case base64
    case hex
    /// `ipmask(V4PREFIX[,V6PREFIX])`: keeps that many leading bits.
    case ipmask(v4: Int, v6: Int?)
    /// `url_dec`: decodes %XX escapes.
    case urlDecode
    /// `length`: the string's length, as an integer.
    case length
    /// `add`, `sub`, `mul`, `div`, `mod`, `and`, `or`, `xor`: with an
    /// integer or the value of a variable.
    case arithmetic(ArithmeticOperator, ConverterOperand)
    /// `neg`, `cpl`, `bool`, `not`, `odd`, `even`.
    case integerFunction(IntegerFunction)
    /// `concat([START][,VAR][,END])`.
    case concat(prefix: String, variable: VariableName?, suffix: String)
    /// `ltrim(CHARS)`, `rtrim(CHARS)`.
    case trim(characters: String, leading: Bool)
    /// `bytes(OFFSET[,LENGTH])`.
    case bytes(offset: Int, length: Int?)
    /// `url_enc`: percent-encodes what a query string cannot hold.
    case urlEncode
    /// `json([utf8|utf8s|utf8p|utf8ps|ascii])`: escaped for a JSON string.
    case json(JSONInput)
    /// `cut_crlf`: up to the first CR or LF.
    case cutCRLF
    /// `host_only`, `port_only`: the parts of a `host[:port]` value.
    case hostOnly
    case portOnly
    /// `iif(TRUE,FALSE)`: one of two strings, by the boolean value.
    case iif(String, String)
    /// `strcmp(VAR)`: <0, 0 or >0 against a variable's value.
    case strcmp(VariableName)
    /// `crc32`, `djb2`, `sdbm`, `wt6` with `[avalanche]`: a 32-bit hash.
    case hash(HashFunctionName, avalanche: Bool)
    /// `sha1`, `sha2([224|256|384|512])`: the binary digest.
    case digest(bits: Int)
    /// `ltime(FORMAT[,OFFSET])`, `utime(…)`: a timestamp formatted by strftime(3).
    case time(format: String, offset: Int, utc: Bool)
    /// `http_date([OFFSET[,UNIT]])`: a timestamp as an HTTP date (IMF-fixdate).
    case httpDate(offset: Int64, unitsPerSecond: Int64)
    /// `hex2i`: hexadecimal text to an integer.
    case hexToInteger
    /// `b64dec`: decodes base64.
    case base64Decode
}

/// A variable a converter reads: `txn.name`.
public struct VariableName: Sendable, Hashable {
    public var scope: VariableScope
    public var name: String

    public init(scope: VariableScope, name: String) {
        self.scope = scope
        self.name = name
    }
}

/// The right-hand side of an arithmetic converter.
public enum ConverterOperand: Sendable, Hashable {
    case integer(Int64)
    case variable(VariableName)
}

public enum ArithmeticOperator: String, Sendable, Hashable, CaseIterable {
    case add, sub, mul, div, mod, and, or, xor
}

public enum IntegerFunction: String, Sendable, Hashable, CaseIterable {
    case neg, cpl, bool, not, odd, even
}

/// How `json` reads its input.
public enum JSONInput: String, Sendable, Hashable {
    /// Reject invalid UTF-8 (the sample is dropped).
    case utf8
    /// Skip invalid UTF-8 sequences.
    case utf8s
    /// Replace invalid UTF-8 sequences with U+FFFD.
    case utf8p
    /// Skip, and replace.
    case utf8ps
    /// Bytes above 127 escaped as \u00XX.
    case ascii
}

public enum HashFunctionName: String, Sendable, Hashable {
    case crc32, djb2, sdbm, wt6
}

/// A map file, loaded at parse time: lines of `KEY VALUE`, `#` comments.
public struct MapTable: Sendable, Hashable {
    /// How a sample is compared with each key (the `map_*` suffix; `str` for `map`).
    public var method: MatchMethod
    public var entries: [MapEntry]
    /// The converter's second argument: the result when no key matches
    /// (nil: the sample is dropped, as if it did not exist).
    public var defaultValue: String?
    /// The path as written, for messages.
    public var file: String

    public init(method: MatchMethod, entries: [MapEntry], defaultValue: String?, file: String) {
        self.method = method
        self.entries = entries
        self.defaultValue = defaultValue
        self.file = file
    }
}

public struct MapEntry: Sendable, Hashable {
    public var key: String
    /// For `map_ip`: the key as a network.
    public var network: IPNetwork?
    public var value: String

    public init(key: String, network: IPNetwork? = nil, value: String) {
        self.key = key
        self.network = network
        self.value = value
    }
}
