// Sample expressions: `fetch[(args)][,converter[(args)]]…`, as written in
// ACLs, `%[…]` log-format fields and rule arguments. Derived ACL keywords
// (`path_beg`, `hdr_val(x)`, …) are spelled out into a fetch and a match
// method here.

/// The type of a sample's value, which picks an ACL's default match method.
enum SampleType: Sendable {
    case string, integer, address, boolean
    /// Bytes that are not text (`ssl_c_serial`, `ssl_c_sha1`, `req.payload`): matched as hexadecimal patterns.
    case binary

    var defaultMatch: MatchMethod {
        switch self {
        case .string: return .str
        case .binary: return .bin
        case .integer: return .int
        case .address: return .ip
        case .boolean: return .bool
        }
    }
}

/// Where a fetch's data comes from: which rules can use it.
enum FetchSource: Int, Sendable, Comparable {
    /// Constants and the process's state: usable everywhere.
    case constant = 0
    /// The connection's addresses.
    case connection
    /// The raw bytes of the request buffer (`mode tcp` content inspection).
    case content
    /// The HTTP request.
    case request
    /// The connection to the server (`ssl_bc*`): known once connected.
    case serverConnection
    /// The HTTP response.
    case response

    static func < (a: FetchSource, b: FetchSource) -> Bool { a.rawValue < b.rawValue }

    /// What a fetch of this source needs, for messages.
    var needs: String {
        switch self {
        case .response: return "the HTTP response"
        case .serverConnection: return "the connection to the server"
        case .content: return "the request's contents"
        default: return "the HTTP request"
        }
    }
}

/// A parsed sample with what the parser learnt about it.
struct ParsedSample: Sendable {
    var sample: Sample
    var type: SampleType
    /// The match method a derived ACL keyword implies (`path_beg`: beg).
    var derivedMatch: MatchMethod?
    var source: FetchSource
    /// Integer patterns may be written as versions, `3.1` (`req.ssl_ver`).
    var dottedVersion = false
}

/// Why a sample expression was refused: the message, and the character
/// offset in the expression it applies to. A nil message was already reported.
struct SampleError: Error, Sendable {
    var offset: Int
    var message: String?
}

extension Fetch {
    /// The data the fetch needs.
    var source: FetchSource {
        switch self {
        case .src, .srcPort, .dst, .dstPort, .proxyUniqueID: return .connection
        case .method, .path, .url, .query, .base, .reqVer, .urlParam, .hdr, .fhdr, .hdrCount, .fhdrCount, .cookie,
             .cookieCount, .requestBody, .requestBodyLength, .requestBodySize, .requestBodyParam, .uniqueID, .httpAuth, .httpAuthGroup, .capturedRequestHeader: return .request
        case .status, .resHdr, .resHdrCount, .capturedResponseHeader: return .response
        case .stickCounter: return .connection
        case .nbsrv, .variable, .constant, .alwaysTrue, .alwaysFalse, .frontendName, .backendName, .serverName,
             .date, .random, .environment, .hostname, .processID, .uuid:
            return .constant
        case .sslFrontend, .sslFrontendSNI, .sslFrontendProtocol, .sslFrontendCipher, .sslFrontendALPN:
            return .connection
        case .sslClientHasCertificate, .sslClientUsed, .sslClientVerify, .sslCertificate:
            return .connection
        case .sslBackend, .sslBackendProtocol, .sslBackendCipher, .sslBackendALPN:
            return .serverConnection
        case .content: return .content
        }
    }
}

enum SampleSyntax {
    /// The fetches Weir supports, as HAProxy spells them.
    static let fetches: [String] = [
        "src", "src_port", "dst", "dst_port", "method", "path", "url", "query", "base", "req.ver", "req_ver",
        "url_param", "urlp", "req.body", "req.body_len", "req.body_size", "req.body_param", "hdr", "req.hdr", "req.fhdr", "hdr_cnt", "req.hdr_cnt", "req.fhdr_cnt", "cook",
        "req.cook", "cook_cnt", "req.cook_cnt", "hdr_val", "req.hdr_val", "hdr_ip", "req.hdr_ip", "cook_val",
        "req.cook_val", "urlp_val", "status", "res.hdr", "shdr", "res.hdr_cnt", "shdr_cnt", "res.hdr_val",
        "shdr_val", "res.hdr_ip", "shdr_ip", "nbsrv", "var", "str", "int", "always_true", "always_false",
        "date", "rand", "env", "hostname", "pid", "uuid",
        "unique-id", "http_auth", "http_auth_group", "capture.req.hdr", "capture.res.hdr", "fc_pp_unique_id", "fe_name", "be_name",
        "srv_name", "ssl_fc", "ssl_fc_sni", "ssl_fc_protocol", "ssl_fc_cipher", "ssl_fc_alpn",
        "ssl_bc", "ssl_bc_protocol", "ssl_bc_cipher", "ssl_bc_alpn",
    ] + clientCertificateFetches + ContentFetchSyntax.names

    /// Client certificates (mTLS) and the frontend's certificate.
    static let clientCertificateFetches: [String] = [
        "ssl_fc_has_crt", "ssl_c_used", "ssl_c_verify", "ssl_c_err", "ssl_c_ca_err", "ssl_c_ca_err_depth",
        "ssl_c_s_dn", "ssl_c_i_dn", "ssl_c_serial", "ssl_c_sha1", "ssl_c_der", "ssl_c_notbefore", "ssl_c_notafter",
        "ssl_c_version", "ssl_c_sig_alg", "ssl_c_key_alg",
        "ssl_f_s_dn", "ssl_f_i_dn", "ssl_f_serial", "ssl_f_sha1", "ssl_f_der", "ssl_f_notbefore", "ssl_f_notafter",
        "ssl_f_version", "ssl_f_sig_alg", "ssl_f_key_alg",
    ]

    /// ACL keywords that imply a match method: `<base>_<method>`.
    static let derivedBases = ["path", "url", "base", "hdr", "cook", "urlp", "shdr", "ssl_fc_sni"]
    static let derivedMethods: [String: MatchMethod] = [
        "beg": .beg, "dir": .dir, "dom": .dom, "end": .end, "len": .len, "reg": .reg, "sub": .sub,
    ]

    static var aclKeywords: [String] {
        fetches + derivedBases.flatMap { base in ["beg", "dir", "dom", "end", "len", "reg", "sub"].map { base + "_" + $0 } }
    }

    /// HAProxy fetches Weir does not have yet (including every `ssl_*` and `sc*_` one).
    static let unsupportedFetches: Set<String> = [
        "avg_queue", "be_conn", "be_conn_free", "be_id", "be_server_timeout", "be_tunnel_timeout", "bin", "bool",
        "connslots", "cpu_calls", "cpu_ns_avg", "cpu_ns_tot", "date_us", "fe_client_timeout",
        "fe_conn", "fe_id", "fe_req_rate", "fe_sess_rate", "ipv4", "ipv6", "last_rule_file",
        "last_rule_line", "lat_ns_avg", "lat_ns_tot", "meth", "prio_class", "prio_offset", "proc", "queue",
        "srv_conn", "srv_conn_free", "srv_is_up", "srv_queue", "srv_sess_rate", "srv_iweight",
        "srv_uweight", "srv_weight", "stopping", "thread", "act_conn",
        "bc_dst", "bc_dst_port", "bc_src", "bc_src_port", "bc_http_major", "dst_conn", "dst_is_local", "fc_dst",
        "fc_dst_port", "fc_src", "fc_src_port", "fc_http_major", "fc_rcvd_proxy", "fc_rtt", "fc_rttvar",
        "fc_unacked", "fc_pp_authority", "so_id", "so_name", "src_is_local",
        "src_bytes_in_rate",
        "src_bytes_out_rate", "src_gpc0", "srv_id", "srv_name_hash",
        "res.len", "res.payload", "res.payload_lv", "res.ssl_hello_type",
        "base32", "base32+src", "baseq", "capture.req.method", "capture.req.uri", "capture.req.ver",
        "capture.res.ver", "cookie", "http_auth_bearer", "http_auth_pass", "http_auth_type", "http_auth_user",
        "http_first_req", "pathq", "req.cook_names",
        "req.hdr_names", "req.hdrs", "req.hdrs_bin", "req.timer.hdr", "req.timer.idle", "req.timer.queue",
        "req.timer.tq", "res.body", "res.body_len", "res.body_size", "res.cache_hit", "res.cache_name", "res.comp",
        "res.comp_algo", "res.cook", "res.cook_cnt", "res.cook_val", "res.cook_names", "res.fhdr", "res.fhdr_cnt",
        "res.hdr_names", "res.hdrs", "res.ver", "resp_ver", "scook", "scook_cnt", "scook_val", "set-cookie",
        "txn.status", "txn.timer.total", "txn.sess_term_state", "url32", "url32+src", "url_ip", "url_port",
        "http_req_rate", "http_err_rate", "req.cook_val_cnt", "acl", "quic_enabled",
        "ssl_fc_has_sni", "ssl_fc_session_id",
    ]

    static func isUnsupportedFetch(_ name: String) -> Bool {
        if fetches.contains(name) { return false }
        if unsupportedFetches.contains(name) || name.hasPrefix("ssl_") || name.hasPrefix("sc_") { return true }
        // sc0_*, sc1_*, sc2_*, src_* counters, table_*.
        if name.count > 4, name.hasPrefix("sc"), name.dropFirst(2).first?.isNumber == true { return true }
        if name.hasPrefix("src_") || name.hasPrefix("table_") || name.hasPrefix("fc_") || name.hasPrefix("bc_") {
            return true
        }
        // Derived ACL forms of unsupported bases.
        for suffix in ["_beg", "_dir", "_dom", "_end", "_len", "_reg", "_sub", "_cnt", "_val", "_ip"]
        where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if ["scook", "res.cook", "req.ssl_sni", "url_param"].contains(base) {
                return true
            }
        }
        return false
    }

    static let converters: [String] = [
        "lower", "upper", "map", "map_str", "map_beg", "map_sub", "map_dir", "map_dom", "map_end", "map_reg",
        "map_int", "map_ip", "field", "word", "regsub", "base64", "hex", "ipmask", "url_dec", "length",
    ] + ArithmeticOperator.allCases.map(\.rawValue) + IntegerFunction.allCases.map(\.rawValue) + [
        "concat", "ltrim", "rtrim", "bytes", "url_enc", "json", "cut_crlf", "host_only", "port_only", "iif",
        "strcmp", "crc32", "djb2", "sdbm", "wt6", "sha1", "sha2", "ltime", "utime", "http_date", "hex2i", "b64dec",
    ]

    static let unsupportedConverters: Set<String> = [
        "add_item", "aes_gcm_dec", "aes_gcm_enc", "be2dec", "be2hex", "crc32c", "debug", "digest", "fix_is_valid",
        "fix_tag_value", "hmac", "htonl", "in_table", "json_query", "language", "mqtt_field_value", "mqtt_is_valid",
        "param", "protobuf", "rfc7239_field", "rfc7239_is_valid", "rfc7239_n2nn", "rfc7239_n2np", "secure_memcmp",
        "set-var", "ungrpc", "unset-var", "us_ltime", "us_utime", "x509_v_err_str", "xxh3", "xxh32", "xxh64",
        "map_str_int", "map_str_ip", "map_beg_int", "map_beg_ip", "map_sub_int", "map_sub_ip",
        "map_dir_int", "map_dir_ip", "map_dom_int", "map_dom_ip", "map_end_int", "map_end_ip", "map_reg_int",
        "map_reg_ip", "map_int_int", "map_int_ip", "map_ip_int", "map_ip_ip", "map_regm", "nbsrv", "capture-req",
        "capture-res", "table_http_req_rate", "table_conn_cur", "ipv6_mask", "json_enc",
    ]

    /// What a backslash makes ordinary in arguments; before anything else it
    /// stays, so that `\1` in a `regsub` replacement and `\.` in a regex
    /// reach them (HAProxy's `regsub("(a)(b)","\2\1")`).
    static let escapable: Set<Character> = ["\\", "\"", "'", ",", "(", ")", " "]

    /// The arguments between `(` at `start` and its `)`, split at commas.
    /// Single quotes are literal; in double quotes and unquoted, a backslash
    /// makes the next character ordinary when it is one of `escapable`.
    /// Unquoted parentheses nest. Returns the arguments and the index just
    /// past the `)`.
    static func arguments(_ chars: [Character], from start: Int) -> Result<([String], Int), SampleError> {
        var args: [String] = []
        var current = ""
        var sawAny = false
        var depth = 0
        var i = start + 1
        while i < chars.count {
            let c = chars[i]
            switch c {
            case "'":
                guard let close = chars[(i + 1)...].firstIndex(of: "'") else {
                    return .failure(SampleError(offset: i, message: "unterminated single quote in arguments"))
                }
                current += String(chars[(i + 1)..<close])
                sawAny = true
                i = close + 1
            case "\"":
                var j = i + 1
                var closed = false
                while j < chars.count {
                    if chars[j] == "\\", j + 1 < chars.count {
                        if !Self.escapable.contains(chars[j + 1]) { current.append("\\") }
                        current.append(chars[j + 1])
                        j += 2
                        continue
                    }
                    if chars[j] == "\"" { closed = true; break }
                    current.append(chars[j])
                    j += 1
                }
                guard closed else {
                    return .failure(SampleError(offset: i, message: "unterminated double quote in arguments"))
                }
                sawAny = true
                i = j + 1
            case "\\" where i + 1 < chars.count:
                if !Self.escapable.contains(chars[i + 1]) { current.append("\\") }
                current.append(chars[i + 1])
                sawAny = true
                i += 2
            case "(":
                depth += 1
                current.append(c)
                sawAny = true
                i += 1
            case ")" where depth > 0:
                depth -= 1
                current.append(c)
                i += 1
            case ")":
                if sawAny || !args.isEmpty { args.append(current) }
                return .success((args, i + 1))
            case ",":
                args.append(current)
                current = ""
                sawAny = true
                i += 1
            default:
                current.append(c)
                sawAny = true
                i += 1
            }
        }
        return .failure(SampleError(offset: start, message: "missing ')' after the arguments"))
    }

    /// A name: up to `(`, `,` or the end.
    static func name(_ chars: [Character], from start: Int) -> Int {
        var i = start
        while i < chars.count, chars[i] != "(", chars[i] != "," { i += 1 }
        return i
    }
}

extension ParserState {
    /// Parses a whole sample expression. `acl` allows derived ACL keywords.
    /// Errors are reported at `word` (shifted by `offset` when the word is
    /// written unquoted), prefixed by `context`.
    mutating func sample(_ text: String, at word: Word, offset: Int = 0, context: String,
                         acl: Bool = false) -> ParsedSample? {
        currentReferenceLocation = location(word, offset: offset)
        defer { currentReferenceLocation = nil }
        switch parseSample(Array(text), acl: acl, context: context) {
        case .success(let s): return s
        case .failure(let e):
            if let message = e.message {
                report(.error, "\(context): \(message)", at: location(word, offset: offset + e.offset))
            }
            return nil
        }
    }

    mutating func parseSample(_ chars: [Character], acl: Bool, context: String) -> Result<ParsedSample, SampleError> {
        guard !chars.isEmpty else { return .failure(SampleError(offset: 0, message: "expected a sample fetch")) }
        let nameEnd = SampleSyntax.name(chars, from: 0)
        let name = String(chars[0..<nameEnd])
        var args: [String]?
        var i = nameEnd
        if i < chars.count, chars[i] == "(" {
            switch SampleSyntax.arguments(chars, from: i) {
            case .success(let (a, next)):
                args = a
                i = next
            case .failure(let e): return .failure(e)
            }
        }
        var parsed: ParsedSample
        switch fetch(name, args, acl: acl) {
        case .success(let p): parsed = p
        case .failure(let e): return .failure(SampleError(offset: 0, message: e.message))
        }
        while i < chars.count {
            guard chars[i] == "," else {
                return .failure(SampleError(offset: i, message: "unexpected '\(chars[i])' after '\(String(chars[0..<i]))'; "
                                            + "converters are written ',name'"))
            }
            let convStart = i + 1
            let convEnd = SampleSyntax.name(chars, from: convStart)
            let convName = String(chars[convStart..<convEnd])
            var convArgs: [String]?
            i = convEnd
            if i < chars.count, chars[i] == "(" {
                switch SampleSyntax.arguments(chars, from: i) {
                case .success(let (a, next)):
                    convArgs = a
                    i = next
                case .failure(let e): return .failure(e)
                }
            }
            switch converter(convName, convArgs, input: parsed.type, context: context) {
            case .success(let (c, type)):
                parsed.sample.converters.append(c)
                parsed.type = type
            case .failure(let e):
                return .failure(SampleError(offset: convStart, message: e.message))
            }
        }
        return .success(parsed)
    }

    // MARK: Fetches

    private mutating func fetch(_ name: String, _ args: [String]?, acl: Bool) -> Result<ParsedSample, SampleError> {
        func fail(_ message: String) -> Result<ParsedSample, SampleError> { .failure(SampleError(offset: 0, message: message)) }
        func made(_ fetch: Fetch, _ type: SampleType, _ source: FetchSource, derived: MatchMethod? = nil)
            -> Result<ParsedSample, SampleError> {
            .success(ParsedSample(sample: Sample(fetch: fetch), type: type, derivedMatch: derived, source: source))
        }
        func noArguments() -> String? {
            guard let args, !args.isEmpty else { return nil }
            return "'\(name)' takes no argument"
        }
        /// `(NAME[,OCCURRENCE])` of header fetches.
        func header(required: Bool) -> Result<(String?, Int?), SampleError> {
            guard let args, !args.isEmpty, !args[0].isEmpty else {
                if required { return .failure(SampleError(offset: 0, message: "'\(name)' expects a header name, as in \(name)(host)")) }
                return .success((nil, nil))
            }
            if args.count > 2 {
                return .failure(SampleError(offset: 0, message: "'\(name)' takes a header name and an occurrence, got \(args.count) arguments"))
            }
            var occurrence: Int?
            if args.count == 2 {
                guard let n = Int(args[1]), abs(n) <= 1_000_000 else {
                    return .failure(SampleError(offset: 0, message: "'\(name)': expected an occurrence number like 1 or -1, got '\(args[1])'"))
                }
                occurrence = n == 0 ? nil : n
            }
            return .success((args[0], occurrence))
        }
        func oneName(_ what: String, optional: Bool = false) -> Result<String?, SampleError> {
            guard let args, !args.isEmpty, !args[0].isEmpty else {
                if optional { return .success(nil) }
                return .failure(SampleError(offset: 0, message: "'\(name)' expects \(what)"))
            }
            if args.count > 1 {
                return .failure(SampleError(offset: 0, message: "'\(name)' takes one argument, got \(args.count)"))
            }
            return .success(args[0])
        }

        switch name {
        case "src", "dst", "src_port", "dst_port":
            if let e = noArguments() { return fail(e) }
            switch name {
            case "src": return made(.src, .address, .connection)
            case "dst": return made(.dst, .address, .connection)
            case "src_port": return made(.srcPort, .integer, .connection)
            default: return made(.dstPort, .integer, .connection)
            }
        case "method", "path", "url", "query", "base", "req.ver", "req_ver":
            if let e = noArguments() { return fail(e) }
            let f: Fetch = switch name {
            case "method": .method
            case "path": .path
            case "url": .url
            case "query": .query
            case "base": .base
            default: .reqVer
            }
            return made(f, .string, .request)
        case "url_param", "urlp", "urlp_val":
            guard let args, !args.isEmpty, !args[0].isEmpty else {
                return fail("'\(name)' expects a parameter name, as in \(name)(id)")
            }
            if args.count > 1 { return fail("'\(name)': a delimiter argument is not supported by Weir yet") }
            return made(.urlParam(args[0]), name == "urlp_val" ? .integer : .string, .request)
        case "req.body", "req.body_len", "req.body_size":
            if let e = noArguments() { return fail(e) }
            switch name {
            case "req.body": return made(.requestBody, .binary, .request)
            case "req.body_len": return made(.requestBodyLength, .integer, .request)
            default: return made(.requestBodySize, .integer, .request)
            }
        case "req.body_param":
            guard let args, !args.isEmpty, !args[0].isEmpty else {
                return fail("'req.body_param' expects a parameter name, as in req.body_param(user)")
            }
            if args.count > 2 || (args.count == 2 && args[1] != "i") {
                return fail("'req.body_param' takes a name and optionally 'i' (ignore case), as in req.body_param(user,i)")
            }
            return made(.requestBodyParam(args[0], ignoreCase: args.count == 2), .string, .request)
        case "hdr", "req.hdr", "hdr_val", "req.hdr_val", "hdr_ip", "req.hdr_ip":
            switch header(required: true) {
            case .success(let (n, occ)):
                let type: SampleType = name.hasSuffix("_val") ? .integer : name.hasSuffix("_ip") ? .address : .string
                return made(.hdr(name: n!, occurrence: occ), type, .request)
            case .failure(let e): return .failure(e)
            }
        case "req.fhdr":
            switch header(required: true) {
            case .success(let (n, occ)): return made(.fhdr(name: n!, occurrence: occ), .string, .request)
            case .failure(let e): return .failure(e)
            }
        case "res.hdr", "shdr", "res.hdr_val", "shdr_val", "res.hdr_ip", "shdr_ip":
            switch header(required: true) {
            case .success(let (n, occ)):
                let type: SampleType = name.hasSuffix("_val") ? .integer : name.hasSuffix("_ip") ? .address : .string
                return made(.resHdr(name: n!, occurrence: occ), type, .response)
            case .failure(let e): return .failure(e)
            }
        case "hdr_cnt", "req.hdr_cnt", "req.fhdr_cnt", "res.hdr_cnt", "shdr_cnt":
            switch oneName("a header name", optional: true) {
            case .success(let n):
                if name == "req.fhdr_cnt" { return made(.fhdrCount(n), .integer, .request) }
                if name == "res.hdr_cnt" || name == "shdr_cnt" { return made(.resHdrCount(n), .integer, .response) }
                return made(.hdrCount(n), .integer, .request)
            case .failure(let e): return .failure(e)
            }
        case "cook", "req.cook", "cook_val", "req.cook_val":
            switch oneName("a cookie name", optional: true) {
            case .success(let n): return made(.cookie(n), name.hasSuffix("_val") ? .integer : .string, .request)
            case .failure(let e): return .failure(e)
            }
        case "cook_cnt", "req.cook_cnt":
            switch oneName("a cookie name", optional: true) {
            case .success(let n): return made(.cookieCount(n), .integer, .request)
            case .failure(let e): return .failure(e)
            }
        case "status":
            if let e = noArguments() { return fail(e) }
            return made(.status, .integer, .response)
        case "nbsrv":
            switch oneName("a backend name", optional: true) {
            case .success(let n):
                let reference: NamedReference
                if let n {
                    reference = NamedReference(name: n, location: lineLocationForReferences)
                } else if let index = proxyIndex, proxies[index].kind.hasBackend {
                    reference = NamedReference(name: proxies[index].name, location: lineLocationForReferences)
                } else {
                    return fail("'nbsrv' needs a backend name outside a backend or listen section, as in nbsrv(app)")
                }
                backendReferences.append(reference)
                return made(.nbsrv(backend: backendReferences.count - 1), .integer, .constant)
            case .failure(let e): return .failure(e)
            }
        case "var":
            switch oneName("a variable name, as in var(txn.name)") {
            case .success(let n):
                switch Self.variable(n!) {
                case .success(let (scope, varName)): return made(.variable(scope: scope, name: varName), .string, .constant)
                case .failure(let m): return fail("'var': \(m.text)")
                }
            case .failure(let e): return .failure(e)
            }
        case "str":
            guard let args, args.count == 1 else { return fail("'str' expects one argument, as in str(text)") }
            return made(.constant(args[0]), .string, .constant)
        case "int":
            guard let args, args.count == 1, Int64(args[0]) != nil else {
                return fail("'int' expects an integer, as in int(42)")
            }
            return made(.constant(args[0]), .integer, .constant)
        case "date":
            switch Self.offsetAndUnit(args ?? [], context: "'date'") {
            case .success(let (offset, perSecond)):
                return made(.date(offset: offset, unitsPerSecond: perSecond), .integer, .constant)
            case .failure(let f): return fail(f.text)
            }
        case "rand":
            var range: Int64 = 1 << 32
            if let args, !args.isEmpty {
                guard args.count == 1, let n = Int64(args[0]), n > 0 else {
                    return fail("'rand' takes a positive range, as in rand(100)")
                }
                range = n
            }
            return made(.random(range: range), .integer, .constant)
        case "env":
            guard let args, args.count == 1, !args[0].isEmpty else {
                return fail("'env' expects a variable name, as in env(HOME)")
            }
            return made(.environment(args[0]), .string, .constant)
        case "hostname", "pid":
            if let e = noArguments() { return fail(e) }
            return name == "pid" ? made(.processID, .integer, .constant) : made(.hostname, .string, .constant)
        case "uuid":
            if let args, !(args.count == 1 && args[0] == "4") { return fail("'uuid' only makes version 4 UUIDs: uuid or uuid(4)") }
            return made(.uuid, .string, .constant)
        case "always_true", "always_false":
            if let e = noArguments() { return fail(e) }
            return made(name == "always_true" ? .alwaysTrue : .alwaysFalse, .boolean, .constant)
        case "unique-id":
            if let e = noArguments() { return fail(e) }
            return made(.uniqueID, .string, .request)
        case "fc_pp_unique_id":
            if let e = noArguments() { return fail(e) }
            return made(.proxyUniqueID, .string, .connection)
        case "http_auth", "http_auth_group":
            switch oneName("a userlist name, as in \(name)(admins)") {
            case .success(let n):
                userlistReferences.append(NamedReference(name: n!, location: lineLocationForReferences))
                let index = userlistReferences.count - 1
                return name == "http_auth"
                    ? made(.httpAuth(userlist: index), .boolean, .request)
                    : made(.httpAuthGroup(userlist: index), .string, .request)
            case .failure(let e): return .failure(e)
            }
        case "capture.req.hdr", "capture.res.hdr":
            guard let args, args.count == 1, let n = Int(args[0]), n >= 0 else {
                return fail("'\(name)' expects a capture number, as in \(name)(0)")
            }
            return made(name == "capture.req.hdr" ? .capturedRequestHeader(n) : .capturedResponseHeader(n), .string,
                        name == "capture.req.hdr" ? .request : .response)
        case "ssl_fc", "ssl_fc_sni", "ssl_fc_protocol", "ssl_fc_cipher", "ssl_fc_alpn":
            if let e = noArguments() { return fail(e) }
            switch name {
            case "ssl_fc": return made(.sslFrontend, .boolean, .connection)
            case "ssl_fc_sni": return made(.sslFrontendSNI, .string, .connection)
            case "ssl_fc_protocol": return made(.sslFrontendProtocol, .string, .connection)
            case "ssl_fc_cipher": return made(.sslFrontendCipher, .string, .connection)
            default: return made(.sslFrontendALPN, .string, .connection)
            }
        case _ where SampleSyntax.clientCertificateFetches.contains(name):
            return clientCertificateFetch(name, args)
        case "ssl_bc", "ssl_bc_protocol", "ssl_bc_cipher", "ssl_bc_alpn":
            if let e = noArguments() { return fail(e) }
            switch name {
            case "ssl_bc": return made(.sslBackend, .boolean, .serverConnection)
            case "ssl_bc_protocol": return made(.sslBackendProtocol, .string, .serverConnection)
            case "ssl_bc_cipher": return made(.sslBackendCipher, .string, .serverConnection)
            default: return made(.sslBackendALPN, .string, .serverConnection)
            }
        case "fe_name", "be_name", "srv_name":
            if let e = noArguments() { return fail(e) }
            let f: Fetch = name == "fe_name" ? .frontendName : name == "be_name" ? .backendName : .serverName
            return made(f, .string, .constant)
        default:
            if let content = contentFetch(name, args) { return content }
            if let counter = stickCounterFetch(name, args) { return counter }
        }

        // Derived ACL keywords: <base>_<method>.
        if acl, let underscore = name.lastIndex(of: "_") {
            let base = String(name[..<underscore])
            let suffix = String(name[name.index(after: underscore)...])
            if SampleSyntax.derivedBases.contains(base), let method = SampleSyntax.derivedMethods[suffix] {
                switch fetch(base, args, acl: false) {
                case .success(var p):
                    p.derivedMatch = method
                    return .success(p)
                case .failure(let e):
                    return .failure(e)
                }
            }
        }
        if SampleSyntax.isUnsupportedFetch(name) {
            return fail("fetch '\(name)' is not supported by Weir yet")
        }
        let candidates = acl ? SampleSyntax.aclKeywords : SampleSyntax.fetches
        return fail("unknown fetch '\(name)'" + Keywords.didYouMean(name, among: candidates))
    }

    /// `ssl_fc_has_crt`, `ssl_c_*` and `ssl_f_*`.
    private func clientCertificateFetch(_ name: String, _ args: [String]?) -> Result<ParsedSample, SampleError> {
        func made(_ fetch: Fetch, _ type: SampleType) -> Result<ParsedSample, SampleError> {
            .success(ParsedSample(sample: Sample(fetch: fetch), type: type, derivedMatch: nil, source: .connection))
        }
        func fail(_ message: String) -> Result<ParsedSample, SampleError> { .failure(SampleError(offset: 0, message: message)) }
        let client = name.hasPrefix("ssl_c_") || name == "ssl_fc_has_crt"
        let field = String(name.dropFirst(6))
        if field == "s_dn" || field == "i_dn" {
            // ([entry[,occ[,format]]])
            let args = args ?? []
            if args.count > 3 { return fail("'\(name)' takes at most an entry, an occurrence and a format, as in \(name)(CN,1)") }
            var selection = DNSelection()
            if let entry = args.first, !entry.isEmpty { selection.entry = entry }
            if args.count > 1 {
                guard let n = Int(args[1]), abs(n) <= 1_000_000 else {
                    return fail("'\(name)': expected an occurrence number like 1 or -1, got '\(args[1])'")
                }
                guard n != 0 || selection.entry == nil else {
                    return fail("'\(name)': the occurrence of '\(selection.entry!)' cannot be 0; 1 is the first, -1 the last")
                }
                if n != 0 { selection.occurrence = n }
            }
            if args.count > 2, !args[2].isEmpty {
                guard args[2] == "rfc2253" else {
                    return fail("'\(name)': only rfc2253 or a blank value are currently supported as the format argument, "
                                + "got '\(args[2])'")
                }
                selection.rfc2253 = true
            }
            return made(.sslCertificate(field == "s_dn" ? .subjectDN(selection) : .issuerDN(selection), client: client), .string)
        }
        if let args, !args.isEmpty { return fail("'\(name)' takes no argument") }
        switch name {
        case "ssl_fc_has_crt": return made(.sslClientHasCertificate, .boolean)
        case "ssl_c_used": return made(.sslClientUsed, .boolean)
        case "ssl_c_verify": return made(.sslClientVerify(.result), .integer)
        case "ssl_c_err": return made(.sslClientVerify(.error), .integer)
        case "ssl_c_ca_err": return made(.sslClientVerify(.caError), .integer)
        case "ssl_c_ca_err_depth": return made(.sslClientVerify(.caErrorDepth), .integer)
        default: break
        }
        let certificateField: SSLCertificateField
        var type = SampleType.string
        switch field {
        case "serial":
            certificateField = .serial
            type = .binary
        case "sha1":
            certificateField = .sha1
            type = .binary
        case "der":
            certificateField = .der
            type = .binary
        case "notbefore": certificateField = .notBefore
        case "notafter": certificateField = .notAfter
        case "version":
            certificateField = .version
            type = .integer
        case "sig_alg": certificateField = .signatureAlgorithm
        default: certificateField = .keyAlgorithm
        }
        return made(.sslCertificate(certificateField, client: client), type)
    }

    /// The location used for names resolved once every section is read: the
    /// keyword of the line being read.
    var lineLocationForReferences: SourceLocation {
        currentReferenceLocation ?? SourceLocation(file: file, line: line.number, column: line.words.first?.column ?? 1)
    }

    /// `scope.name`, as in `txn.user`.
    static func variable(_ text: String) -> Result<(VariableScope, String), ParseFailure> {
        guard let dot = text.firstIndex(of: ".") else {
            return .failure("expected a scope and a name like txn.name, got '\(text)'")
        }
        let scopeText = String(text[..<dot])
        let name = String(text[text.index(after: dot)...])
        guard let scope = VariableScope(rawValue: scopeText) else {
            return .failure("unknown variable scope '\(scopeText)'; expected proc, sess, txn, req or res")
        }
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") }) else {
            return .failure("invalid variable name '\(name)': use letters, digits, '_' and '.'")
        }
        return .success((scope, name))
    }

    // MARK: Converters

    private mutating func converter(_ name: String, _ args: [String]?, input: SampleType,
                                    context: String) -> Result<(Converter, SampleType), SampleError> {
        func fail(_ message: String?) -> Result<(Converter, SampleType), SampleError> {
            .failure(SampleError(offset: 0, message: message))
        }
        let argc = args?.count ?? 0
        switch name {
        case "lower", "upper", "base64", "hex", "url_dec", "length":
            if argc > 0 { return fail("converter '\(name)' takes no argument") }
            switch name {
            case "lower": return .success((.lower, .string))
            case "upper": return .success((.upper, .string))
            case "base64": return .success((.base64, .string))
            case "hex": return .success((.hex, .string))
            case "url_dec": return .success((.urlDecode, .string))
            default: return .success((.length, .integer))
            }
        case "field", "word":
            guard let args, args.count == 2 || args.count == 3 else {
                return fail("converter '\(name)' expects an index and delimiters, as in \(name)(2,/)")
            }
            guard let n = Int(args[0]), n != 0, abs(n) <= 65535 else {
                return fail("converter '\(name)': expected a non-zero index, got '\(args[0])'")
            }
            guard !args[1].isEmpty else { return fail("converter '\(name)': expected at least one delimiter") }
            if args.count == 3 { return fail("converter '\(name)': the count argument is not supported by Weir yet") }
            return .success((name == "field" ? .field(index: n, delimiters: args[1]) : .word(index: n, delimiters: args[1]),
                              .string))
        case "regsub":
            guard let args, args.count == 2 || args.count == 3 else {
                return fail("converter 'regsub' expects a regex and a replacement, as in regsub(^/api,/)")
            }
            var global = false
            var ignoreCase = false
            if args.count == 3 {
                for flag in args[2] {
                    switch flag {
                    case "g": global = true
                    case "i": ignoreCase = true
                    default: return fail("converter 'regsub': unknown flag '\(flag)'; expected 'g' or 'i'")
                    }
                }
            }
            if let problem = Regex.check(args[0], ignoreCase: ignoreCase) {
                return fail("converter 'regsub': invalid regular expression '\(args[0])': \(problem)")
            }
            return .success((.regsub(pattern: args[0], replacement: args[1], global: global, ignoreCase: ignoreCase), .string))
        case "ipmask":
            guard let args, args.count == 1 || args.count == 2 else {
                return fail("converter 'ipmask' expects an IPv4 mask and an optional IPv6 mask, as in ipmask(24,64)")
            }
            var v4: Int
            if let n = Int(args[0]), (0...32).contains(n) {
                v4 = n
            } else if let mask = Addresses.parseIPv4(Substring(args[0])), let n = Self.prefixLength(ofMask: mask) {
                v4 = n
            } else {
                return fail("converter 'ipmask': expected an IPv4 mask like 24 or 255.255.255.0, got '\(args[0])'")
            }
            var v6: Int?
            if args.count == 2 {
                guard let n = Int(args[1]), (0...128).contains(n) else {
                    return fail("converter 'ipmask': expected an IPv6 prefix length between 0 and 128, got '\(args[1])'")
                }
                v6 = n
            }
            return .success((.ipmask(v4: v4, v6: v6), .address))
        case "map", "map_str", "map_beg", "map_sub", "map_dir", "map_dom", "map_end", "map_reg", "map_int", "map_ip":
            guard let args, args.count == 1 || args.count == 2, !args[0].isEmpty else {
                return fail("converter '\(name)' expects a map file and an optional default value, as in \(name)(/etc/weir/hosts.map)")
            }
            let method: MatchMethod = switch name {
            case "map", "map_str": .str
            case "map_beg": .beg
            case "map_sub": .sub
            case "map_dir": .dir
            case "map_dom": .dom
            case "map_end": .end
            case "map_reg": .reg
            case "map_int": .int
            default: .ip
            }
            guard let entries = mapEntries(args[0], method: method, context: "\(context): converter '\(name)'") else {
                return fail(nil)
            }
            return .success((.map(MapTable(method: method, entries: entries, defaultValue: args.count == 2 ? args[1] : nil,
                                           file: args[0])), .string))
        case _ where ArithmeticOperator(rawValue: name) != nil:
            guard let args, args.count == 1, !args[0].isEmpty else {
                return fail("converter '\(name)' expects an integer or a variable name, as in \(name)(2) or \(name)(txn.count)")
            }
            if let n = Int64(args[0]) {
                return .success((.arithmetic(ArithmeticOperator(rawValue: name)!, .integer(n)), .integer))
            }
            switch Self.variable(args[0]) {
            case .success(let (scope, varName)):
                return .success((.arithmetic(ArithmeticOperator(rawValue: name)!,
                                             .variable(VariableName(scope: scope, name: varName))), .integer))
            case .failure(let m):
                return fail("converter '\(name)': expected an integer or a variable name: \(m.text)")
            }
        case _ where IntegerFunction(rawValue: name) != nil:
            if argc > 0 { return fail("converter '\(name)' takes no argument") }
            let function = IntegerFunction(rawValue: name)!
            return .success((.integerFunction(function), function == .neg || function == .cpl ? .integer : .boolean))
        case "concat":
            let args = args ?? []
            guard args.count <= 3 else {
                return fail("converter 'concat' takes a prefix, a variable name and a suffix, as in concat(<,txn.id,>)")
            }
            var variable: VariableName?
            if args.count >= 2, !args[1].isEmpty {
                switch Self.variable(args[1]) {
                case .success(let (scope, varName)): variable = VariableName(scope: scope, name: varName)
                case .failure(let m): return fail("converter 'concat': \(m.text)")
                }
            }
            return .success((.concat(prefix: args.first ?? "", variable: variable, suffix: args.count == 3 ? args[2] : ""),
                             .string))
        case "ltrim", "rtrim":
            guard let args, args.count == 1, !args[0].isEmpty else {
                return fail("converter '\(name)' expects the characters to remove, as in \(name)(\" /\")")
            }
            return .success((.trim(characters: args[0], leading: name == "ltrim"), .string))
        case "bytes":
            guard let args, args.count == 1 || args.count == 2, let offset = Int(args[0]), offset >= 0,
                  args.count == 1 || Int(args[1]).map({ $0 >= 0 }) == true else {
                return fail("converter 'bytes' expects an offset and an optional length, as in bytes(2,4)")
            }
            return .success((.bytes(offset: offset, length: args.count == 2 ? Int(args[1]) : nil), .binary))
        case "url_enc":
            if let args, !(args.count == 1 && (args[0] == "query" || args[0].isEmpty)) {
                return fail("converter 'url_enc' takes only 'query'")
            }
            return .success((.urlEncode, .string))
        case "json":
            let code = args?.first ?? ""
            guard argc <= 1, code.isEmpty || JSONInput(rawValue: code) != nil else {
                return fail("converter 'json' takes ascii, utf8, utf8s, utf8p or utf8ps")
            }
            return .success((.json(JSONInput(rawValue: code) ?? .utf8), .string))
        case "cut_crlf", "host_only", "port_only", "hex2i", "b64dec", "sha1":
            if argc > 0 { return fail("converter '\(name)' takes no argument") }
            switch name {
            case "cut_crlf": return .success((.cutCRLF, .string))
            case "host_only": return .success((.hostOnly, .string))
            case "port_only": return .success((.portOnly, .integer))
            case "hex2i": return .success((.hexToInteger, .integer))
            case "b64dec": return .success((.base64Decode, .binary))
            default: return .success((.digest(bits: 160), .binary))
            }
        case "sha2":
            let bits = args?.first.flatMap { Int($0) } ?? 256
            guard argc <= 1, [224, 256, 384, 512].contains(bits) else {
                return fail("converter 'sha2' takes 224, 256, 384 or 512")
            }
            return .success((.digest(bits: bits), .binary))
        case "iif":
            guard let args, args.count == 2 else {
                return fail("converter 'iif' expects two strings, as in iif(https,http)")
            }
            return .success((.iif(args[0], args[1]), .string))
        case "strcmp":
            guard let args, args.count == 1 else { return fail("converter 'strcmp' expects a variable name, as in strcmp(txn.key)") }
            switch Self.variable(args[0]) {
            case .success(let (scope, varName)): return .success((.strcmp(VariableName(scope: scope, name: varName)), .integer))
            case .failure(let m): return fail("converter 'strcmp': \(m.text)")
            }
        case "crc32", "djb2", "sdbm", "wt6":
            guard argc == 0 || (argc == 1 && (args![0] == "0" || args![0] == "1")) else {
                return fail("converter '\(name)' takes an optional 1 to mix the hash (avalanche)")
            }
            return .success((.hash(HashFunctionName(rawValue: name)!, avalanche: args?.first == "1"), .integer))
        case "ltime", "utime":
            guard let args, args.count == 1 || args.count == 2, !args[0].isEmpty else {
                return fail("converter '\(name)' expects a strftime format and an optional offset, as in \(name)(%Y-%m-%d)")
            }
            var offset = 0
            if args.count == 2 {
                guard let n = Int(args[1]) else { return fail("converter '\(name)': expected an offset in seconds, got '\(args[1])'") }
                offset = n
            }
            return .success((.time(format: args[0], offset: offset, utc: name == "utime"), .string))
        case "http_date":
            switch Self.offsetAndUnit(args ?? [], context: "converter 'http_date'") {
            case .success(let (offset, perSecond)): return .success((.httpDate(offset: offset, unitsPerSecond: perSecond), .string))
            case .failure(let f): return fail(f.text)
            }
        default:
            if SampleSyntax.unsupportedConverters.contains(name) {
                return fail("converter '\(name)' is not supported by Weir yet")
            }
            return fail("unknown converter '\(name)'" + Keywords.didYouMean(name, among: SampleSyntax.converters))
        }
    }

    /// `[OFFSET[,UNIT]]` of `date` and `http_date`: the offset in seconds,
    /// and how many units make a second (`s`, `ms` or `us`).
    static func offsetAndUnit(_ args: [String], context: String) -> Result<(Int64, Int64), ParseFailure> {
        guard args.count <= 2 else { return .failure("\(context) takes an offset in seconds and a unit (s, ms or us)") }
        var offset: Int64 = 0
        if let first = args.first, !first.isEmpty {
            guard let n = Int64(first) else { return .failure("\(context): expected an offset in seconds, got '\(first)'") }
            offset = n
        }
        guard args.count == 2 else { return .success((offset, 1)) }
        switch args[1] {
        case "s": return .success((offset, 1))
        case "ms": return .success((offset, 1000))
        case "us": return .success((offset, 1_000_000))
        default: return .failure("\(context): expected the unit s, ms or us, got '\(args[1])'")
        }
    }

    /// A map file's entries. Errors are reported at the file's line; nil
    /// when the file cannot be read (reported at the current line).
    private mutating func mapEntries(_ path: String, method: MatchMethod, context: String) -> [MapEntry]? {
        let lines: [(text: String, line: Int, column: Int)]
        switch patternLines(path) {
        case .success(let l): lines = l
        case .failure(let e):
            report(.error, "\(context): \(e)", at: lineLocationForReferences)
            return nil
        }
        var entries: [MapEntry] = []
        var ok = true
        for (text, number, column) in lines {
            let chars = Array(text)
            var keyEnd = 0
            while keyEnd < chars.count, chars[keyEnd] != " ", chars[keyEnd] != "\t" { keyEnd += 1 }
            var valueStart = keyEnd
            while valueStart < chars.count, chars[valueStart] == " " || chars[valueStart] == "\t" { valueStart += 1 }
            let key = String(chars[0..<keyEnd])
            let value = String(chars[valueStart...])
            let at = SourceLocation(file: path, line: number, column: column)
            var entry = MapEntry(key: key, value: value)
            switch method {
            case .reg:
                if let problem = Regex.check(key) {
                    report(.error, "\(context): invalid regular expression '\(key)': \(problem)", at: at)
                    ok = false
                }
            case .ip:
                switch Self.network(Substring(key)) {
                case .success(let n): entry.network = n
                case .failure(let m):
                    report(.error, "\(context): \(m.text)", at: at)
                    ok = false
                }
            case .int:
                if Int64(key) == nil {
                    report(.error, "\(context): expected an integer key, got '\(key)'", at: at)
                    ok = false
                }
            default:
                break
            }
            entries.append(entry)
        }
        return ok ? entries : nil
    }

    // MARK: Networks

    /// The prefix length of a contiguous netmask like 255.255.0.0.
    static func prefixLength(ofMask mask: IPAddress) -> Int? {
        var bits = 0
        var ended = false
        for byte in mask.bytes {
            for shift in (0..<8).reversed() {
                if byte >> UInt8(shift) & 1 == 1 {
                    if ended { return nil }
                    bits += 1
                } else {
                    ended = true
                }
            }
        }
        return bits
    }

    /// `ADDR`, `ADDR/LEN` or `V4ADDR/MASK`.
    static func network(_ text: Substring) -> Result<IPNetwork, ParseFailure> {
        var addressText = text
        var lengthText: Substring?
        if let slash = text.firstIndex(of: "/") {
            addressText = text[..<slash]
            lengthText = text[text.index(after: slash)...]
        }
        guard let address = Addresses.parseIP(addressText, family: .any) else {
            return .failure("expected an IPv4 or IPv6 address or network, got '\(text)'")
        }
        let full = address.isV6 ? 128 : 32
        guard let lengthText else { return .success(IPNetwork(address: address, prefixLength: full)) }
        if let n = Int(lengthText), n >= 0, n <= full {
            return .success(IPNetwork(address: address, prefixLength: n))
        }
        if !address.isV6, let mask = Addresses.parseIPv4(lengthText), let n = prefixLength(ofMask: mask) {
            return .success(IPNetwork(address: address, prefixLength: n))
        }
        let netmask = address.isV6 ? "" : " or a netmask"
        return .failure(ParseFailure("invalid network '\(text)': expected a prefix length between 0 and \(full)\(netmask)"))
    }
}
