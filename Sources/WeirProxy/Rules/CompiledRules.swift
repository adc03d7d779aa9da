import WeirBalance
import WeirConfig

// The runtime forms of the configuration's HTTP model, built once per worker
// by `RuleCompiler`: strings as byte views into a `ConstantStore` (lowercase
// where they are compared ignoring case), regular expressions compiled,
// networks as masks, maps sorted. Nothing here allocates when it is used.

/// Which header a fetch reads.
struct HeaderSelector {
    /// Lowercase; nil: every header (for the counts).
    let name: UnsafeRawBufferPointer?
    /// Positive: from the first value, negative: from the last; nil: every
    /// value in an ACL, the last one as a value.
    let occurrence: Int?
    /// `hdr` splits a line at commas; `fhdr` takes whole lines.
    let splitsValues: Bool
    let inResponse: Bool
}

enum CompiledFetch {
    case source, sourcePort, destination, destinationPort
    case method, path, url, query, base, requestVersion
    case urlParameter(UnsafeRawBufferPointer)
    /// `req.body`, `req.body_len`, `req.body_size`, `req.body_param` (BodySamples.swift).
    case requestBody, requestBodyLength, requestBodySize
    case requestBodyParameter(UnsafeRawBufferPointer, ignoreCase: Bool)
    case header(HeaderSelector)
    case headerCount(HeaderSelector)
    /// nil: the first cookie, whatever its name.
    case cookie(UnsafeRawBufferPointer?)
    case cookieCount(UnsafeRawBufferPointer?)
    case status
    case usableServers(backend: Int)
    case variable(VariableSlot)
    case constant(UnsafeRawBufferPointer)
    case boolean(Bool)
    case uniqueID
    case proxyUniqueID
    /// `date`, `rand`, `pid`, `uuid` (ConverterFunctions.swift); a fetch that
    /// never has a value (`env` of an unset variable).
    case date(offset: Int64, unitsPerSecond: Int64)
    case random(range: Int64)
    case processID, uuid, absent
    case httpAuth(userlist: Int)
    case httpAuthGroup(userlist: Int)
    /// An index into the frontend's request (or response) captures.
    case capturedHeader(index: Int, inResponse: Bool)
    case frontendName, backendName, serverName
    case sslFrontend, sslFrontendSNI, sslFrontendProtocol, sslFrontendCipher, sslFrontendALPN
    // Client certificates (mTLS) and the frontend's certificate.
    case sslClientHasCertificate, sslClientUsed
    case sslClientVerify(SSLVerifyField)
    case sslCertificate(CompiledCertificateField, client: Bool)
    case sslBackend, sslBackendProtocol, sslBackendCipher, sslBackendALPN
    /// The request buffer's raw bytes in mode tcp (`ContentSamples.swift`).
    case content(ContentFetch)
    case stickCounter(StickFetch)

    /// Whether an ACL tries every value the fetch has, not just one.
    var isMultiValued: Bool {
        switch self {
        case .header(let h): return h.occurrence == nil
        case .cookie(let name): return name != nil
        case .urlParameter, .requestBodyParameter, .httpAuthGroup, .content(.sslALPN): return true
        default: return false
        }
    }
}

/// A certificate field of `ssl_c_*` / `ssl_f_*`.
enum CompiledCertificateField {
    /// The subject's or issuer's DN; `entry` a NUL-terminated short name
    /// ("CN") in the constants, nil for the whole DN.
    case distinguishedName(issuer: Bool, entry: UnsafePointer<CChar>?, occurrence: Int, rfc2253: Bool)
    case serial, sha1, der, notBefore, notAfter
    case version, signatureAlgorithm, keyAlgorithm
}

enum CompiledConverter {
    case lower, upper
    case map(CompiledMap)
    /// `field` (each delimiter counts) or `word` (runs of delimiters count as one).
    case field(index: Int, delimiters: UnsafeRawBufferPointer, mergesRuns: Bool)
    case regsub(CompiledRegex, replacement: UnsafeRawBufferPointer, global: Bool)
    case base64, hex
    case ipmask(v4: Int, v6: Int?)
    case urlDecode
    case length
    // ConverterFunctions.swift.
    case arithmetic(ArithmeticOperator, CompiledOperand)
    case integerFunction(IntegerFunction)
    case concat(prefix: UnsafeRawBufferPointer, variable: VariableSlot?, suffix: UnsafeRawBufferPointer)
    case trim(characters: UnsafeRawBufferPointer, leading: Bool)
    case bytes(offset: Int, length: Int?)
    case urlEncode
    case json(JSONInput)
    case cutCRLF, hostOnly, portOnly
    case iif(UnsafeRawBufferPointer, UnsafeRawBufferPointer)
    case strcmp(VariableSlot)
    case hash(KeyHash, avalanche: Bool)
    case digest(bits: Int)
    /// `format` NUL-terminated, for strftime(3).
    case time(format: UnsafePointer<CChar>, offset: Int, utc: Bool)
    case httpDate(offset: Int64, unitsPerSecond: Int64)
    case hexToInteger, base64Decode
}

/// An arithmetic converter's right-hand side.
enum CompiledOperand {
    case integer(Int64)
    case variable(VariableSlot)
}

struct CompiledSample {
    let fetch: CompiledFetch
    let converters: [CompiledConverter]
}

/// A map file: the sample is compared with each key per `method`; the
/// matching entry's value is the result.
final class CompiledMap {
    let method: MatchMethod
    /// For `str`, sorted (binary search); otherwise in file order.
    let keys: [UnsafeRawBufferPointer]
    let values: [UnsafeRawBufferPointer]
    let regexes: [CompiledRegex]
    let networks: [IPNetworkMatcher]
    let integers: [Int64]
    let defaultValue: UnsafeRawBufferPointer?

    init(method: MatchMethod, keys: [UnsafeRawBufferPointer], values: [UnsafeRawBufferPointer], regexes: [CompiledRegex],
         networks: [IPNetworkMatcher], integers: [Int64], defaultValue: UnsafeRawBufferPointer?) {
        self.method = method
        self.keys = keys
        self.values = values
        self.regexes = regexes
        self.networks = networks
        self.integers = integers
        self.defaultValue = defaultValue
    }
}

/// One `acl` line, ready to match.
final class CompiledACL {
    let sample: CompiledSample
    let method: MatchMethod
    let ignoreCase: Bool
    /// For `str`, sorted for a binary search.
    let strings: [UnsafeRawBufferPointer]
    let regexes: [CompiledRegex]
    let integers: [ClosedRange<Int64>]
    let networks: [IPNetworkMatcher]

    init(sample: CompiledSample, method: MatchMethod, ignoreCase: Bool, strings: [UnsafeRawBufferPointer],
         regexes: [CompiledRegex], integers: [ClosedRange<Int64>], networks: [IPNetworkMatcher]) {
        self.sample = sample
        self.method = method
        self.ignoreCase = ignoreCase
        self.strings = strings
        self.regexes = regexes
        self.integers = integers
        self.networks = networks
    }
}

struct CompiledTerm {
    let negated: Bool
    /// The lines of the ACL: the term holds when any of them matches.
    let acls: [CompiledACL]
}

struct CompiledCondition {
    let alternatives: [[CompiledTerm]]
    let negated: Bool
    /// Folded to a constant when the configuration was read.
    let constant: Bool?

    static var always: CompiledCondition { CompiledCondition(alternatives: [], negated: false, constant: true) }
}

struct CompiledLogFormat {
    let nodes: [CompiledLogNode]
}

enum CompiledLogNode {
    case literal(UnsafeRawBufferPointer)
    case variable(LogVariable, LogFormatOptions)
    case sample(CompiledSample, LogFormatOptions)
}

/// A per-session place for a variable (`sess`, `txn`, `req`, `res`) or a
/// per-worker one (`proc`).
struct VariableSlot {
    let index: Int
    let scope: VariableScope
}

/// Where a captured value is kept for the session's exchange.
struct CaptureSlot {
    let index: Int
    let length: Int
}

struct CompiledHeaderCapture {
    /// Lowercase.
    let name: UnsafeRawBufferPointer
    let slot: CaptureSlot
}

/// How `del-header -m METHOD` compares names.
enum HeaderNameMatch {
    case exact, prefix, suffix, substring
    case regex(CompiledRegex)
}

final class CompiledRedirect {
    let kind: RedirectKind
    let value: CompiledLogFormat
    let code: Int
    let dropQuery: Bool
    let appendSlash: Bool
    /// The whole Set-Cookie value (`NAME=V; path=/;`), or nil.
    let cookie: UnsafeRawBufferPointer?
    /// `ignore-empty`: no redirect when the value renders empty.
    let ignoreEmpty: Bool

    init(kind: RedirectKind, value: CompiledLogFormat, code: Int, dropQuery: Bool, appendSlash: Bool,
         cookie: UnsafeRawBufferPointer?, ignoreEmpty: Bool) {
        self.ignoreEmpty = ignoreEmpty
        self.kind = kind
        self.value = value
        self.code = code
        self.dropQuery = dropQuery
        self.appendSlash = appendSlash
        self.cookie = cookie
    }
}

enum CompiledReturnBody {
    case none
    case bytes(UnsafeRawBufferPointer)
    case logFormat(CompiledLogFormat)
    /// A complete HTTP response, sent as it is.
    case rawResponse(UnsafeRawBufferPointer)
    /// The proxy's error page for the status.
    case errorPage
}

final class CompiledReturn {
    let status: Int
    let contentType: UnsafeRawBufferPointer?
    let body: CompiledReturnBody
    let headers: [(name: UnsafeRawBufferPointer, value: CompiledLogFormat)]
    /// The body or a header has log-format fields: the answer is written
    /// while the request is at hand.
    let readsRequest: Bool

    init(status: Int, contentType: UnsafeRawBufferPointer?, body: CompiledReturnBody,
         headers: [(name: UnsafeRawBufferPointer, value: CompiledLogFormat)], readsRequest: Bool) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
        self.readsRequest = readsRequest
    }
}

enum CompiledErrorPage {
    case raw(UnsafeRawBufferPointer)
    case redirect(code: Int, location: UnsafeRawBufferPointer)
    case response(CompiledReturn)
}

enum CompiledAction {
    case allow
    case reject
    case silentDrop
    /// `answer` nil: the proxy's error page for the status.
    case deny(status: Int, answer: CompiledReturn?)
    /// `answer`: 1 + the index of the custom answer in `tarpitAnswers`; 0: none.
    case tarpit(status: Int, answer: Int)
    case auth(realm: UnsafeRawBufferPointer)
    case redirect(CompiledRedirect)
    case answer(CompiledReturn)
    /// `use-service`: a built-in service answers.
    case service(HTTPService)
    /// `name` as written, for the new field; `lowercaseName` finds the old ones.
    case setHeader(name: UnsafeRawBufferPointer, lowercaseName: UnsafeRawBufferPointer, value: CompiledLogFormat)
    case addHeader(name: UnsafeRawBufferPointer, value: CompiledLogFormat)
    /// `name` is lowercase.
    case deleteHeader(name: UnsafeRawBufferPointer, match: HeaderNameMatch)
    /// `replace-header` (whole lines) or `replace-value` (each comma-separated value).
    case replaceHeader(name: UnsafeRawBufferPointer, regex: CompiledRegex, replacement: CompiledLogFormat,
                       eachValue: Bool)
    case setMethod(CompiledLogFormat)
    case setPath(CompiledLogFormat)
    case setPathQuery(CompiledLogFormat)
    case setQuery(CompiledLogFormat)
    case setURI(CompiledLogFormat)
    case replaceTarget(part: RequestTargetPart, regex: CompiledRegex, replacement: CompiledLogFormat)
    case setVariable(VariableSlot, CompiledSample)
    case unsetVariable(VariableSlot)
    case setVariableFormat(VariableSlot, CompiledLogFormat)
    /// nil: silent.
    case disableL7Retry
    case setLogLevel(LogLevel?)
    case setStatus(Int, reason: UnsafeRawBufferPointer?)
    case capture(CompiledSample, CaptureSlot)
    /// `set-timeout server|tunnel`: `milliseconds`, or the sample's value when given.
    case setTimeout(tunnel: Bool, milliseconds: Int, sample: CompiledSample?)
    case stickCounter(CompiledStickAction)
}

final class CompiledHTTPRule {
    let condition: CompiledCondition
    let action: CompiledAction

    init(condition: CompiledCondition, action: CompiledAction) {
        self.condition = condition
        self.action = action
    }
}

/// What a `tcp-request connection|content` rule decides.
enum TCPVerdict {
    case accept
    case reject
    /// `silent-drop`: a reject whose close is a reset the client is not meant to see.
    case silentDrop
}

struct CompiledTCPRule {
    let verdict: TCPVerdict
    let condition: CompiledCondition
    /// A stick-counter rule: it acts and the list goes on.
    var stick: CompiledStickAction? = nil
    /// `expect-proxy layer4`: the connection must start with a PROXY
    /// protocol header; the list goes on.
    var expectsProxy = false
}

struct CompiledBackendRule {
    /// -1 when `dynamicName` names it.
    let backend: Int
    let dynamicName: CompiledLogFormat?
    let condition: CompiledCondition
}

/// Everything the rules engine runs for one frontend or one backend.
final class ProxyRules {
    let name: UnsafeRawBufferPointer
    let isHTTP: Bool
    let requestRules: [CompiledHTTPRule]
    let responseRules: [CompiledHTTPRule]
    let afterResponseRules: [CompiledHTTPRule]
    let redirectRules: [CompiledHTTPRule]
    let tcpConnectionRules: [CompiledTCPRule]
    let tcpContentRules: [CompiledTCPRule]
    let backendRules: [CompiledBackendRule]
    /// -1: none.
    let defaultBackend: Int
    /// A listen section's backend half, whose rules were already run as the
    /// frontend's; -1 otherwise.
    let ownBackend: Int
    let errorPages: [Int: CompiledErrorPage]
    let requestHeaderCaptures: [CompiledHeaderCapture]
    let responseHeaderCaptures: [CompiledHeaderCapture]
    /// Every request capture slot, in `%hr` order (declared headers, then `http-request capture`).
    let requestCaptures: [CaptureSlot]
    let responseCaptures: [CaptureSlot]
    /// `timeout tarpit`, else `timeout connect`, in ms.
    let tarpitTimeout: Int?
    /// A frontend's `capture cookie` (CookieCapture.swift).
    var cookieCapture: CompiledCookieCapture?

    init(name: UnsafeRawBufferPointer, isHTTP: Bool, requestRules: [CompiledHTTPRule], responseRules: [CompiledHTTPRule],
         afterResponseRules: [CompiledHTTPRule], redirectRules: [CompiledHTTPRule], tcpConnectionRules: [CompiledTCPRule], tcpContentRules: [CompiledTCPRule],
         backendRules: [CompiledBackendRule], defaultBackend: Int, ownBackend: Int, errorPages: [Int: CompiledErrorPage],
         requestHeaderCaptures: [CompiledHeaderCapture], responseHeaderCaptures: [CompiledHeaderCapture],
         requestCaptures: [CaptureSlot], responseCaptures: [CaptureSlot], tarpitTimeout: Int?) {
        self.name = name
        self.isHTTP = isHTTP
        self.requestRules = requestRules
        self.responseRules = responseRules
        self.afterResponseRules = afterResponseRules
        self.redirectRules = redirectRules
        self.tcpConnectionRules = tcpConnectionRules
        self.tcpContentRules = tcpContentRules
        self.backendRules = backendRules
        self.defaultBackend = defaultBackend
        self.ownBackend = ownBackend
        self.errorPages = errorPages
        self.requestHeaderCaptures = requestHeaderCaptures
        self.responseHeaderCaptures = responseHeaderCaptures
        self.requestCaptures = requestCaptures
        self.responseCaptures = responseCaptures
        self.tarpitTimeout = tarpitTimeout
    }
}

enum StoredPassword {
    case plain(UnsafeRawBufferPointer)
    /// A crypt(3) hash, NUL-terminated.
    case hashed(UnsafePointer<CChar>)
}

struct CompiledUser {
    let name: UnsafeRawBufferPointer
    let password: StoredPassword
    let groups: [UnsafeRawBufferPointer]
}

/// A proxy's `stats …` lines, ready for requests.
struct CompiledStatsPage {
    let page: StatsPage
    let uri: UnsafeRawBufferPointer
    let realm: UnsafeRawBufferPointer
    /// `user:password` pairs accepted as Basic credentials; empty: no authentication.
    let credentials: [[UInt8]]
    /// `stats admin`; nil: no admin.
    let admin: CompiledCondition?
}

/// A backend's `http-send-name-header NAME`.
struct CompiledServerNameHeader {
    let name: UnsafeRawBufferPointer
    /// For removing the client's copies.
    let lowercaseName: UnsafeRawBufferPointer
    /// The longest server name of the backend: the room a request head keeps
    /// until its server is known.
    let longestServerName: UnsafeRawBufferPointer
}

/// A frontend's `monitor-uri` and `monitor fail` lines, ready for requests.
struct CompiledMonitor {
    /// Matched against the request's target; one starting with `/` also
    /// matches the path of an absolute-form target.
    let uri: UnsafeRawBufferPointer
    let failConditions: [CompiledCondition]
}

struct CompiledUserlist {
    let users: [CompiledUser]
}
