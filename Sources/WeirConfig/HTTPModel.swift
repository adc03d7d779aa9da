// The validated model of HTTP mode: conditions built from ACLs, samples and
// converters, log-format strings, http-request/http-response rules, error
// pages, persistence and user lists. Plain values only, as in Model.swift.

// MARK: - Conditions and ACLs

/// An `if`/`unless` condition: an OR of AND-groups of (possibly negated)
/// ACL references, as HAProxy writes it (`a b || !c`).
///
/// `unless` is kept as a flag rather than expanded: the condition holds when
/// `alternatives` evaluates to `!negated` (so `unless X` is `X` with
/// `negated == true`). An empty `alternatives` is false; an empty AND-group
/// is true. Conditions made only of constants (`TRUE`, `FALSE`,
/// `always_true`, `always_false`, or ACLs defined on them) are folded when
/// the proxy is read, so they compare equal to ``always`` or ``never``.
public struct Condition: Sendable, Hashable {
    public var alternatives: [[ConditionTerm]]
    /// Set by `unless`: the result of `alternatives` is inverted.
    public var negated: Bool

    public init(alternatives: [[ConditionTerm]], negated: Bool = false) {
        self.alternatives = alternatives
        self.negated = negated
    }

    /// No condition, or one that always holds.
    public static let always = Condition(alternatives: [[]], negated: false)
    /// A condition that never holds.
    public static let never = Condition(alternatives: [], negated: false)
}

/// One reference to an ACL in a condition. A named ACL written on several
/// `acl` lines matches when any of its lines does, so `acls` holds every
/// line of it in order (one ACL for an anonymous `{ … }` one).
public struct ConditionTerm: Sendable, Hashable {
    /// `!name`: the term holds when the ACL does not match.
    public var negated: Bool
    /// The ACL's name as written, or "" for an anonymous `{ … }` ACL.
    public var name: String
    public var acls: [ACL]

    public init(negated: Bool, name: String, acls: [ACL]) {
        self.negated = negated
        self.name = name
        self.acls = acls
    }
}

/// One `acl` line (or an anonymous `{ … }` ACL): a sample and how to match it.
public struct ACL: Sendable, Hashable {
    public var name: String
    public var sample: Sample
    public var match: Match
    public var location: SourceLocation

    public init(name: String, sample: Sample, match: Match, location: SourceLocation) {
        self.name = name
        self.sample = sample
        self.match = match
        self.location = location
    }
}

/// A sample expression: a fetch followed by converters, as in
/// `req.hdr(host),lower,map_beg(/etc/weir/hosts.map)`.
public struct Sample: Sendable, Hashable {
    public var fetch: Fetch
    public var converters: [Converter]

    public init(fetch: Fetch, converters: [Converter] = []) {
        self.fetch = fetch
        self.converters = converters
    }
}

/// Where a variable lives (`set-var(txn.name)`).
public enum VariableScope: String, Sendable, Hashable {
    case proc, sess, txn, req, res
}

/// The sample fetches Weir supports. HAProxy's spellings map onto these:
/// `hdr`/`req.hdr`, `cook`/`req.cook`, `url_param`/`urlp`, `req.ver`/`req_ver`,
/// `res.hdr`/`shdr`. Derived ACL keywords (`path_beg`, `hdr_dom(host)`,
/// `hdr_val(x)`, …) become a fetch here and a method in ``Match``.
public enum Fetch: Sendable, Hashable {
    // Layer 4: available from the first byte of the connection.
    /// The client's address (`src`).
    case src
    case srcPort
    /// The address the client connected to (`dst`).
    case dst
    case dstPort

    // The HTTP request.
    /// The request method (`method`).
    case method
    /// The path, without the query string (`path`).
    case path
    /// The request target as sent (`url`).
    case url
    /// The query string without its `?` (`query`).
    case query
    /// The Host header followed by the path (`base`).
    case base
    /// The request's version, like `1.1` (`req.ver`).
    case reqVer
    /// The value of a query-string parameter (`url_param(name)`, `urlp(name)`).
    case urlParam(String)
    /// A request header's values, split at commas (`hdr`, `req.hdr`).
    /// `occurrence` nil: in an ACL every value is tried (any match wins);
    /// as a value, the last one. Positive counts from the first value, negative
    /// from the last (`-1` is the last).
    case hdr(name: String, occurrence: Int?)
    /// A request header's full lines, commas included (`req.fhdr`).
    case fhdr(name: String, occurrence: Int?)
    /// How many values of the header (of every header when nil) the request
    /// has (`hdr_cnt`, `req.hdr_cnt`).
    case hdrCount(String?)
    /// How many lines of the header (of every header when nil) the request has
    /// (`req.fhdr_cnt`).
    case fhdrCount(String?)
    /// A request cookie's value (`req.cook(name)`, `cook(name)`); nil: the
    /// first cookie's value.
    case cookie(String?)
    /// How many cookies of that name (of any name when nil) the request has
    /// (`req.cook_cnt`, `cook_cnt`).
    case cookieCount(String?)
    /// The request body read so far, without chunked framing (`req.body`);
    /// with `option http-buffer-request`, all of it up to a buffer.
    case requestBody
    /// How many bytes of it (`req.body_len`).
    case requestBodyLength
    /// Its announced length, or for a chunked body what was read (`req.body_size`).
    case requestBodySize
    /// A parameter of an url-encoded form in the body (`req.body_param(name[,i])`).
    case requestBodyParam(String, ignoreCase: Bool)

    // The HTTP response.
    /// The response's status code (`status`).
    case status
    /// A response header's values, split at commas (`res.hdr`, `shdr`).
    case resHdr(name: String, occurrence: Int?)
    /// How many values of the response header (of every header when nil) the
    /// response has (`res.hdr_cnt`, `shdr_cnt`).
    case resHdrCount(String?)

    // Internal states.
    /// Usable servers in a backend (`nbsrv(name)`): an index into
    /// `Configuration.backends`.
    case nbsrv(backend: Int)
    /// `var(scope.name)`.
    case variable(scope: VariableScope, name: String)
    /// `str(text)`, `int(n)`: a constant (int() keeps its decimal text).
    case constant(String)
    /// `date([OFFSET[,UNIT]])`: now since the epoch, in seconds (or ms, us),
    /// plus the offset in seconds.
    case date(offset: Int64, unitsPerSecond: Int64)
    /// `rand([RANGE])`: a random integer below the range (2^32 by default).
    case random(range: Int64)
    /// `env(NAME)`: an environment variable of the process.
    case environment(String)
    /// `hostname`, `pid`, `uuid([4])`.
    case hostname
    case processID
    case uuid
    /// `always_true`, `TRUE`.
    case alwaysTrue
    /// `always_false`, `FALSE`.
    case alwaysFalse
    /// The stream's unique id (`unique-id`), from `unique-id-format`.
    case uniqueID
    /// The unique id TLV of the connection's PROXY protocol v2 header (`fc_pp_unique_id`).
    case proxyUniqueID
    /// Whether the request's Basic credentials are valid in the user list
    /// (`http_auth(userlist)`): an index into `Configuration.userlists`.
    case httpAuth(userlist: Int)
    /// The groups of the authenticated user (`http_auth_group(userlist)`),
    /// matched against group names.
    case httpAuthGroup(userlist: Int)
    /// A captured request header, by its `capture request header` position
    /// (`capture.req.hdr(N)`).
    case capturedRequestHeader(Int)
    /// A captured response header (`capture.res.hdr(N)`).
    case capturedResponseHeader(Int)
    /// `fe_name`, `be_name`, `srv_name`.
    case frontendName
    case backendName
    case serverName
    /// A stick counter: `sc_*`, `scN_*`, `src_*`, `table_cnt`, `table_avl`.
    case stickCounter(StickFetch)

    // TLS on the client side.
    /// The client connection is TLS (`ssl_fc`).
    case sslFrontend
    /// The server name the client sent (`ssl_fc_sni`).
    case sslFrontendSNI
    /// `TLSv1.3`, … (`ssl_fc_protocol`).
    case sslFrontendProtocol
    /// OpenSSL's name of the cipher (`ssl_fc_cipher`).
    case sslFrontendCipher
    /// The ALPN protocol negotiated (`ssl_fc_alpn`).
    case sslFrontendALPN

    // Client certificates (mTLS) and the frontend's certificate.
    /// The client presented a certificate on this connection (`ssl_fc_has_crt`).
    case sslClientHasCertificate
    /// The TLS session has a client certificate, also when resumed (`ssl_c_used`).
    case sslClientUsed
    /// `ssl_c_verify`, `ssl_c_err`, `ssl_c_ca_err`, `ssl_c_ca_err_depth`.
    case sslClientVerify(SSLVerifyField)
    /// A field of the client's certificate (`ssl_c_*`, `client`) or of the
    /// one the frontend presented (`ssl_f_*`).
    case sslCertificate(SSLCertificateField, client: Bool)
    /// The connection to the server is TLS (`ssl_bc`).
    case sslBackend
    /// `TLSv1.3`, … towards the server (`ssl_bc_protocol`).
    case sslBackendProtocol
    /// OpenSSL's name of the cipher towards the server (`ssl_bc_cipher`).
    case sslBackendCipher
    /// The ALPN protocol the server chose (`ssl_bc_alpn`).
    case sslBackendALPN
    // The request buffer's raw bytes, in mode tcp (ContentFetches.swift).
    /// `req.len`, `req.payload`, `req.ssl_sni`, `wait_end`, …
    case content(ContentFetch)
}

/// What `ssl_c_verify` and its kin return: integers from the verification.
public enum SSLVerifyField: Sendable, Hashable {
    /// SSL_get_verify_result (`ssl_c_verify`).
    case result
    /// The first error of the client's certificate (`ssl_c_err`).
    case error
    /// The first error above it in the chain (`ssl_c_ca_err`) and its depth (`ssl_c_ca_err_depth`).
    case caError
    case caErrorDepth
}

/// A field of a certificate, as the `ssl_c_*` and `ssl_f_*` fetches read it.
public enum SSLCertificateField: Sendable, Hashable {
    /// `ssl_c_s_dn([entry[,occ[,format]]])`, `ssl_c_i_dn(…)`.
    case subjectDN(DNSelection)
    case issuerDN(DNSelection)
    /// Binary: the serial number's bytes, the SHA-1 of the DER form, the DER form.
    case serial, sha1, der
    /// YYMMDDhhmmss[Z].
    case notBefore, notAfter
    /// An integer: 1 to 3.
    case version
    /// OpenSSL's short names ("RSA-SHA256"; "rsaEncryption").
    case signatureAlgorithm, keyAlgorithm
}

/// Which part of a DN a fetch returns: the whole DN (HAProxy's
/// "/C=FR/O=Org/CN=name", or RFC 2253), or one entry's value.
public struct DNSelection: Sendable, Hashable {
    /// An entry's short name ("CN", "OU"), compared ignoring case; nil: the whole DN.
    public var entry: String?
    /// Which value of the entry: 1 the first, -1 the last.
    public var occurrence: Int
    /// The whole DN in RFC 2253 form (`ssl_c_s_dn(,0,rfc2253)`).
    public var rfc2253: Bool

    public init(entry: String? = nil, occurrence: Int = 1, rfc2253: Bool = false) {
        self.entry = entry
        self.occurrence = occurrence
        self.rfc2253 = rfc2253
    }
}

/// How an ACL compares its sample with its patterns (`-m METHOD`).
public enum MatchMethod: String, Sendable, Hashable {
    /// Exact string.
    case str
    /// The sample begins with a pattern.
    case beg
    case end
    /// The pattern appears anywhere in the sample.
    case sub
    /// A POSIX extended regular expression (checked when the file is read).
    case reg
    /// The pattern is a dot-delimited part of the sample (`host` in `www.host.com`).
    case dom
    /// The pattern is a slash-delimited part of the sample (`api` in `/v1/api/x`).
    case dir
    /// The sample exists (no pattern).
    case found
    /// The sample's length is in one of the integer ranges.
    case len
    /// The sample, as an integer, is in one of the integer ranges.
    case int
    /// The sample, as an address, is in one of the networks.
    case ip
    /// The sample is true (a non-zero integer; no pattern).
    case bool
    /// The sample's bytes equal a pattern written in hexadecimal (`-m bin`;
    /// the default of binary fetches like `ssl_c_serial`).
    case bin
}

/// An ACL's match method and patterns. Which pattern list is used depends on
/// the method: `strings` for str/beg/end/sub/reg/dom/dir, `integers` for
/// int/len, `networks` for ip; found and bool take none.
public struct Match: Sendable, Hashable {
    public var method: MatchMethod
    /// `-i`: compare strings (and regular expressions) ignoring ASCII case.
    public var ignoreCase: Bool
    public var strings: [String]
    public var integers: [ClosedRange<Int64>]
    public var networks: [IPNetwork]

    public init(method: MatchMethod, ignoreCase: Bool = false, strings: [String] = [],
                integers: [ClosedRange<Int64>] = [], networks: [IPNetwork] = []) {
        self.method = method
        self.ignoreCase = ignoreCase
        self.strings = strings
        self.integers = integers
        self.networks = networks
    }
}

/// An address and how many leading bits of it count (`10.0.0.0/8`; a bare
/// address has the full length, 32 or 128).
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    public var prefixLength: Int

    public init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

// MARK: - Log-format strings

/// A parsed log-format string (`log-format`, `lf-string`, header values):
/// literal bytes, `%var` variables and `%[sample]` expressions.
public struct LogFormat: Sendable, Hashable {
    public var nodes: [LogFormatNode]

    public init(nodes: [LogFormatNode]) {
        self.nodes = nodes
    }

    /// A string with no `%` expansion (its text once `%%` is undone).
    public var literal: [UInt8]? {
        var out: [UInt8] = []
        for node in nodes {
            guard case .literal(let bytes) = node else { return nil }
            out += bytes
        }
        return out
    }
}

public enum LogFormatNode: Sendable, Hashable {
    case literal([UInt8])
    case variable(LogVariable, LogFormatOptions)
    case sample(Sample, LogFormatOptions)
}

/// `%{+Q}`, `%{+X}`, `%{+E}` (and `-` to turn one off, `%{+Q}o` for every
/// following field).
public struct LogFormatOptions: Sendable, Hashable {
    /// Q: quote the value.
    public var quote: Bool
    /// X: numbers and addresses in hexadecimal.
    public var hex: Bool
    /// E: escape `"`, `\` and `]` with a backslash.
    public var escape: Bool

    public init(quote: Bool = false, hex: Bool = false, escape: Bool = false) {
        self.quote = quote
        self.hex = hex
        self.escape = escape
    }

    public static let none = LogFormatOptions()
}

/// The `%name` variables of HAProxy's custom log format; the raw value is the
/// name as written after `%`.
public enum LogVariable: String, Sendable, Hashable, CaseIterable {
    case clientIP = "ci"
    case clientPort = "cp"
    case frontendIP = "fi"
    case frontendPort = "fp"
    case backendSourceIP = "bi"
    case backendSourcePort = "bp"
    case serverIP = "si"
    case serverPort = "sp"
    case frontendName = "f"
    /// The frontend's name, with `~` when the connection is TLS.
    case frontendNameTransport = "ft"
    case backendName = "b"
    case serverName = "s"
    /// Bytes sent from the server to the client.
    case bytesRead = "B"
    /// Bytes sent from the client to the server.
    case bytesUploaded = "U"
    case capturedRequestCookie = "CC"
    case capturedResponseCookie = "CS"
    case hostname = "H"
    case httpMethod = "HM"
    /// The request target without its query string.
    case httpPath = "HP"
    /// The path alone (no scheme, host or query).
    case httpPathOnly = "HPO"
    /// The query string with its `?`.
    case httpQuery = "HQ"
    case httpURI = "HU"
    case httpVersion = "HV"
    case uniqueID = "ID"
    case statusCode = "ST"
    /// Accept date, GMT.
    case gmtDate = "T"
    /// Accept date, local time.
    case localDate = "Tl"
    /// Accept date, seconds since the epoch.
    case timestamp = "Ts"
    /// Accept date with milliseconds: `10/Feb/2026:12:00:00.123`.
    case acceptDate = "t"
    /// The milliseconds of the accept date, three digits.
    case acceptDateMilliseconds = "ms"
    /// The date the request started, like %t.
    case requestDate = "tr"
    case requestDateGMT = "trg"
    case requestDateLocal = "trl"
    /// Ta: request active time, from the request's first byte to the end.
    case activeTime = "Ta"
    /// Tc: time to connect to the server.
    case connectTime = "Tc"
    /// Td: data transfer time.
    case dataTime = "Td"
    /// Th: handshake time (TLS, PROXY protocol).
    case handshakeTime = "Th"
    /// Ti: idle time before the request.
    case idleTime = "Ti"
    /// Tq: Th + Ti + TR.
    case requestHeadersTime = "Tq"
    /// TR: time to receive the request's headers.
    case requestTime = "TR"
    /// Tr: the server's response time.
    case responseTime = "Tr"
    /// Tt: total session time.
    case totalTime = "Tt"
    /// Tu: total time, minus the idle time.
    case totalActiveTime = "Tu"
    /// Tw: time spent in queues.
    case queueTime = "Tw"
    case activeConnections = "ac"
    case frontendConnections = "fc"
    case backendConnections = "bc"
    case serverConnections = "sc"
    case retries = "rc"
    case serverQueue = "sq"
    case backendQueue = "bq"
    case logCounter = "lc"
    case requestCounter = "rt"
    /// Captured request headers, `{a|b}`.
    case capturedRequestHeaders = "hr"
    /// Captured request headers, CLF style: one quoted field each.
    case capturedRequestHeadersList = "hrl"
    case capturedResponseHeaders = "hs"
    case capturedResponseHeadersList = "hsl"
    /// The request line (`GET / HTTP/1.1`).
    case httpRequest = "r"
    case terminationState = "ts"
    /// The termination state with the two cookie flags.
    case terminationStateWithCookie = "tsc"
    case pid = "pid"
    case sslCiphers = "sslc"
    case sslVersion = "sslv"
}

// MARK: - HTTP rules

/// One `http-request`, `http-response` or `redirect` rule.
public struct HTTPRule: Sendable, Hashable {
    public var action: HTTPAction
    public var condition: Condition
    public var location: SourceLocation

    public init(action: HTTPAction, condition: Condition = .always, location: SourceLocation) {
        self.action = action
        self.condition = condition
        self.location = location
    }
}

public enum HTTPAction: Sendable, Hashable {
    case allow
    /// `http-request reject`: the connection is closed without an answer (logged `PR`).
    case reject
    /// `silent-drop`: the connection is reset without an answer, the reset
    /// sent with a TTL of 1 so that the client is not told (logged `PR`/`PH`).
    case silentDrop
    /// `deny [deny_status N] [answer…]`: 403 by default in requests, 502 in
    /// responses; `answer` nil: the proxy's error page for the status.
    case deny(status: Int, answer: ReturnSpec? = nil)
    /// `tarpit [deny_status N] [answer…]`: waits `timeout tarpit`, then answers (500 by default).
    case tarpit(status: Int, answer: ReturnSpec? = nil)
    /// `auth [realm R]`: a 401 (407 in a proxy) asking for credentials; nil
    /// realm: the proxy's name.
    case auth(realm: String?)
    case redirect(Redirect)
    /// `return …`: answers locally.
    case returnResponse(ReturnSpec)
    case setHeader(name: String, value: LogFormat)
    case addHeader(name: String, value: LogFormat)
    /// `del-header NAME [-m str|beg|end|sub|reg]`.
    case delHeader(name: String, method: MatchMethod)
    /// Rewrites the whole header line's value where the regex matches it.
    case replaceHeader(name: String, regex: String, replacement: LogFormat)
    /// Rewrites each comma-separated value where the regex matches it.
    case replaceValue(name: String, regex: String, replacement: LogFormat)
    case setPath(LogFormat)
    /// `set-pathq`: the path and the query string.
    case setPathQuery(LogFormat)
    case setQuery(LogFormat)
    case setURI(LogFormat)
    /// `replace-path`, `replace-pathq`, `replace-uri REGEX FMT`: where the
    /// regex matches that part of the request target, it becomes the
    /// replacement with `\N` filled from the match.
    case replaceTarget(part: RequestTargetPart, regex: String, replacement: LogFormat)
    case setMethod(LogFormat)
    case setVar(scope: VariableScope, name: String, sample: Sample)
    case unsetVar(scope: VariableScope, name: String)
    /// `set-var-fmt(scope.name) FMT`: the variable gets the rendered text.
    case setVarFormat(scope: VariableScope, name: String, format: LogFormat)
    /// nil: `silent`, the stream is not logged.
    case setLogLevel(LogLevel?)
    /// `http-request disable-l7-retry`: only a failed connection is retried (`retry-on`).
    case disableL7Retry
    /// `http-response set-status N [reason TEXT]`.
    case setStatus(status: Int, reason: String?)
    /// `http-request capture SAMPLE len N`: kept for the log (%hr), truncated to `length`.
    case capture(sample: Sample, length: Int)
    /// `http-request use-service NAME`: the proxy answers with a built-in service.
    case useService(HTTPService)
    /// `http-request set-timeout server|tunnel VALUE`: that timeout, for
    /// this request only.
    case setTimeout(tunnel: Bool, TimeoutValue)
    /// `track-sc*`, `sc-inc-gpc0|1`, `sc-set-gpt0`.
    case stickCounter(StickCounterAction)
}

/// The value of `set-timeout`.
public enum TimeoutValue: Sendable, Hashable {
    case milliseconds(Int)
    /// An integer, in milliseconds; not positive: no change.
    case expression(Sample)
}

/// The services `http-request use-service` can hand a request to.
public enum HTTPService: String, Sendable, Hashable {
    /// HAProxy's Prometheus exporter: the counters in text exposition format.
    case prometheusExporter = "prometheus-exporter"
}

public enum RedirectKind: String, Sendable, Hashable {
    /// `location URL`: the Location header is the URL.
    case location
    /// `prefix PREFIX`: the prefix followed by the original path (and query).
    case prefix
    /// `scheme SCHEME`: the same URL with another scheme, Host included.
    case scheme
}

public struct Redirect: Sendable, Hashable {
    public var kind: RedirectKind
    /// A LogFormat in `http-request redirect`; a single literal in the `redirect` keyword.
    public var value: LogFormat
    /// 301, 302 (default), 303, 307 or 308.
    public var code: Int
    public var dropQuery: Bool
    public var appendSlash: Bool
    /// `set-cookie NAME[=VALUE]`, as written.
    public var setCookie: String?
    /// `clear-cookie NAME[=]`, as written.
    public var clearCookie: String?
    /// `ignore-empty`: the rule is skipped when its value renders empty.
    public var ignoreEmpty = false

    public init(kind: RedirectKind, value: LogFormat, code: Int = 302, dropQuery: Bool = false,
                appendSlash: Bool = false, setCookie: String? = nil, clearCookie: String? = nil) {
        self.kind = kind
        self.value = value
        self.code = code
        self.dropQuery = dropQuery
        self.appendSlash = appendSlash
        self.setCookie = setCookie
        self.clearCookie = clearCookie
    }
}

/// The response of `http-request return`, `http-error` and error pages.
/// The part of the request target a `replace-path|pathq|uri` rule rewrites.
public enum RequestTargetPart: Sendable, Hashable {
    case path, pathAndQuery, uri
}

public struct ReturnSpec: Sendable, Hashable {
    /// 200 by default.
    public var status: Int
    public var contentType: String?
    public var body: ReturnBody
    /// `hdr NAME VALUE`, in order.
    public var headers: [ReturnHeader]

    public init(status: Int = 200, contentType: String? = nil, body: ReturnBody = .none, headers: [ReturnHeader] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }
}

public enum ReturnBody: Sendable, Hashable {
    case none
    /// `string TEXT` or `file PATH` (read at parse time).
    case bytes([UInt8])
    /// `lf-string FORMAT` or `lf-file PATH`: expanded for each response.
    case logFormat(LogFormat)
    /// `errorfile PATH`: a complete HTTP response, sent as is (checked at parse time).
    case rawResponse([UInt8])
    /// `default-errorfiles`: the proxy's error page for the status.
    case defaultErrorFiles
    /// `errorfiles NAME`: the page of `http-errors NAME` for the status (the
    /// proxy's page when it has none); resolved once every section is read.
    case errorFiles(section: String, location: SourceLocation)
}

public struct ReturnHeader: Sendable, Hashable {
    public var name: String
    public var value: LogFormat

    public init(name: String, value: LogFormat) {
        self.name = name
        self.value = value
    }
}

/// What answers an error status (`errorfile`, `errorloc*`, `http-error`).
public enum ErrorPage: Sendable, Hashable {
    /// `errorfile N FILE`: a complete HTTP response, checked at parse time.
    case raw([UInt8])
    /// `errorloc302 N URL` (code 302; `errorloc` too) or `errorloc303` (303).
    case redirect(code: Int, location: String)
    /// `http-error status N …`.
    case response(ReturnSpec)
}

/// `capture request header NAME len N` / `capture response header …`.
public struct HeaderCapture: Sendable, Hashable {
    public var name: String
    public var length: Int

    public init(name: String, length: Int) {
        self.name = name
        self.length = length
    }
}

public enum TCPAction: String, Sendable, Hashable {
    case accept
    case reject
    /// `tcp-request connection expect-proxy layer4`: the connection starts
    /// with a PROXY protocol header, as on an `accept-proxy` bind.
    case expectProxy = "expect-proxy"
    /// `silent-drop`: closed with no answer, by a reset the client is not
    /// meant to see (SO_LINGER 0, a TTL of 1), as HAProxy does.
    case silentDrop = "silent-drop"
}

/// `tcp-request connection|content accept|reject [if|unless COND]`.
public struct TCPRule: Sendable, Hashable {
    /// nil for a stick-counter rule, which decides nothing.
    public var action: TCPAction?
    /// `track-sc*`, `sc-inc-gpc0|1`, `sc-set-gpt0`: nil for accept and reject.
    public var stickAction: StickCounterAction?
    public var condition: Condition
    public var location: SourceLocation

    public init(action: TCPAction?, condition: Condition = .always, location: SourceLocation) {
        self.action = action
        self.condition = condition
        self.location = location
    }
}

// MARK: - Proxy-level HTTP settings

/// `option forwardfor [except NET] [header NAME] [if-none]` and
/// `option originalto [except NET] [header NAME]`.
public struct ForwardedHeader: Sendable, Hashable {
    /// X-Forwarded-For or X-Original-To by default.
    public var header: String
    /// Clients in these networks get no header.
    public var except: [IPNetwork]
    /// Only add the header when the request has none.
    public var ifNone: Bool

    public init(header: String, except: [IPNetwork] = [], ifNone: Bool = false) {
        self.header = header
        self.except = except
        self.ifNone = ifNone
    }
}

/// `option http-keep-alive` (default), `option http-server-close`, `option httpclose`.
public enum HTTPConnectionMode: Sendable, Hashable {
    case keepAlive
    case serverClose
    case close
}

/// `retry-on`: the failures after which a request is sent again (to the
/// same or, with `option redispatch`, another server), while `retries`
/// allow and the request can be replayed. `conn-failure` by default.
public struct RetryOn: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The connection failed: nothing of the request was sent.
    public static let connFailure = RetryOn(rawValue: 1 << 0)
    /// The server closed after the request, with no byte of a response.
    public static let emptyResponse = RetryOn(rawValue: 1 << 1)
    /// The server sent something that is not a complete HTTP response head.
    public static let junkResponse = RetryOn(rawValue: 1 << 2)
    /// `timeout server` struck while waiting for the response head.
    public static let responseTimeout = RetryOn(rawValue: 1 << 3)
    /// TLS early data refused (accepted; Weir sends no early data).
    public static let zeroRTTRejected = RetryOn(rawValue: 1 << 4)

    /// The statuses a response may be retried on, as HAProxy 2.6 lists them.
    public static let retryableStatuses = [401, 403, 404, 408, 425, 500, 501, 502, 503, 504]

    /// The bit for a retryable status, nil for any other.
    public static func status(_ code: Int) -> RetryOn? {
        // Most statuses are not retryable: one test, no search.
        guard code >= 401 && code <= 504, let index = retryableStatuses.firstIndex(of: code) else { return nil }
        return RetryOn(rawValue: 1 << UInt32(8 + index))
    }

    /// `all-retryable-errors`.
    public static let allRetryableErrors: RetryOn = [.connFailure, .emptyResponse, .junkResponse, .responseTimeout,
                                                     .zeroRTTRejected, .status(500)!, .status(502)!, .status(503)!,
                                                     .status(504)!]

    /// Some failure other than a connection failure: the request must be
    /// kept until the response head is known.
    public var needsReplay: Bool { !subtracting([.connFailure, .zeroRTTRejected]).isEmpty }

    /// Whether a response with this status is retried.
    public func retries(status: Int) -> Bool {
        guard let bit = RetryOn.status(status) else { return false }
        return contains(bit)
    }
}

/// `compression algo|type|offload`: HTTP response compression.
public struct HTTPCompression: Sendable, Hashable {
    /// A `compression algo` name.
    public enum Algorithm: String, Sendable, Hashable, CaseIterable {
        case identity, gzip, deflate
        case rawDeflate = "raw-deflate"

        /// The name a client asks for in `Accept-Encoding` and the response
        /// carries in `Content-Encoding` (`raw-deflate` is offered as `deflate`).
        public var token: String {
            switch self {
            case .identity: "identity"
            case .gzip: "gzip"
            case .deflate, .rawDeflate: "deflate"
            }
        }
    }

    /// In order of preference: the last one configured first, as HAProxy
    /// keeps them (it matters for `Accept-Encoding: *`).
    public var algorithms: [Algorithm] = []
    /// Content-type prefixes to compress; empty: any type.
    public var types: [String] = []
    /// Remove `Accept-Encoding` from requests sent to the server.
    public var offload = false

    public init() {}
}

/// `http-reuse never|safe|aggressive|always` (safe by default).
public enum HTTPReuse: String, Sendable, Hashable {
    case never, safe, aggressive, always
}

public enum HashMethod: String, Sendable, Hashable {
    case mapBased = "map-based"
    case consistent
}

public enum HashFunction: String, Sendable, Hashable {
    case sdbm, djb2, wt6, crc32, none
}

/// `hash-type map-based|consistent [sdbm|djb2|wt6|crc32|none] [avalanche]`.
public struct HashType: Sendable, Hashable {
    public var method: HashMethod
    public var function: HashFunction
    public var avalanche: Bool

    public init(method: HashMethod = .mapBased, function: HashFunction = .sdbm, avalanche: Bool = false) {
        self.method = method
        self.function = function
        self.avalanche = avalanche
    }
}

public enum CookieMode: String, Sendable, Hashable {
    /// No mode given: the cookie is read, never set.
    case passive
    case insert
    case rewrite
    case prefix
}

/// `cookie NAME [insert|rewrite|prefix] [indirect] [nocache] [postonly]
/// [preserve] [httponly] [secure] [domain D]… [maxidle T] [maxlife T] [attr A]…`.
public struct CookiePersistence: Sendable, Hashable {
    public var name: String
    public var mode: CookieMode
    public var indirect = false
    public var noCache = false
    public var postOnly = false
    public var preserve = false
    public var httpOnly = false
    public var secure = false
    public var domains: [String] = []
    /// Milliseconds; nil: no limit.
    public var maxIdle: Int?
    public var maxLife: Int?
    /// `attr` values, appended to the Set-Cookie header as written.
    public var attributes: [String] = []

    public init(name: String, mode: CookieMode = .passive) {
        self.name = name
        self.mode = mode
    }
}

/// One `force-persist` or `ignore-persist` line.
public struct PersistRule: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// `force-persist`: the cookie's server is used even when it is down.
        case force
        /// `ignore-persist`: the cookie is not used.
        case ignore
    }

    public var kind: Kind
    public var condition: Condition

    public init(kind: Kind, condition: Condition) {
        self.kind = kind
        self.condition = condition
    }
}

/// One `use-server NAME if|unless COND` line.
public struct ServerRule: Sendable, Hashable {
    /// The server's name, as written.
    public var serverName: String
    /// Its index in the backend's servers, resolved when the section ends.
    public var server = -1
    public var condition: Condition
    public var location: SourceLocation

    public init(serverName: String, condition: Condition, location: SourceLocation) {
        self.serverName = serverName
        self.condition = condition
        self.location = location
    }
}

// MARK: - User lists

/// A `userlist` section, for `http_auth(NAME)`.
public struct Userlist: Sendable, Hashable {
    public var name: String
    public var users: [UserlistUser]
    public var groups: [UserlistGroup]
    public var location: SourceLocation

    public init(name: String, users: [UserlistUser] = [], groups: [UserlistGroup] = [], location: SourceLocation) {
        self.name = name
        self.users = users
        self.groups = groups
        self.location = location
    }
}

public enum UserPassword: Sendable, Hashable {
    /// `password HASH`: a crypt(3) hash.
    case hashed(String)
    /// `insecure-password TEXT`.
    case insecure(String)
}

public struct UserlistUser: Sendable, Hashable {
    public var name: String
    public var password: UserPassword
    /// Every group the user belongs to: those of its `groups` argument and
    /// those whose `users` argument names it.
    public var groups: [String]

    public init(name: String, password: UserPassword, groups: [String] = []) {
        self.name = name
        self.password = password
        self.groups = groups
    }
}

public struct UserlistGroup: Sendable, Hashable {
    public var name: String
    /// Every member, from either side.
    public var users: [String]

    public init(name: String, users: [String] = []) {
        self.name = name
        self.users = users
    }
}
