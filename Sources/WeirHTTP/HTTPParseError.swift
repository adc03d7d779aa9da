/// Why a message was rejected.
///
/// `status` is what a proxy answers the client: 400, 414, 431, 501 or 505 for
/// a request (bodies stream through, so never 413), always 502 for a response.
/// `kind` says which rule the message broke; `reason` is its text for the log.
public struct HTTPParseError: Error, Sendable, Equatable {
    /// The status to answer with: 400/414/431/501/505 for requests, 502 for responses.
    public var status: Int
    /// The rule the message broke.
    public var kind: Kind

    /// A short fixed text naming the broken rule, for the log.
    public var reason: StaticString { kind.reason }

    public init(status: Int, kind: Kind) {
        self.status = status
        self.kind = kind
    }

    /// The error for a message sent by the client (a request: 4xx/5xx by kind)
    /// or by the server (a response: always 502 Bad Gateway).
    init(_ kind: Kind, in message: HTTPMessageKind) {
        self.init(status: message == .request ? kind.requestStatus : 502, kind: kind)
    }

    /// Every rule a message head or body can break.
    public enum Kind: UInt8, Sendable, CustomStringConvertible {
        case requestLineInvalid
        case methodInvalid
        case targetInvalid
        case versionInvalid
        case versionNotSupported
        case statusLineInvalid
        case statusCodeInvalid
        case lineEndingInvalid
        case obsoleteLineFolding
        case fieldNameInvalid
        case fieldValueInvalid
        case tooManyHeaders
        case headTooLarge
        case requestLineTooLarge
        case hostMissing
        case hostDuplicated
        case contentLengthInvalid
        case contentLengthConflict
        case contentLengthWithTransferEncoding
        case transferEncodingInvalid
        case transferCodingNotImplemented
        case transferEncodingInHTTP10
        case chunkSizeInvalid
        case chunkSizeTooLarge
        case chunkExtensionInvalid
        case chunkDataUnterminated
        case trailerInvalid
        case bodyTruncated

        /// A short fixed text for the log line.
        public var reason: StaticString {
            switch self {
            case .requestLineInvalid: "invalid request line"
            case .methodInvalid: "invalid method"
            case .targetInvalid: "invalid request target"
            case .versionInvalid: "invalid HTTP version"
            case .versionNotSupported: "HTTP version not supported"
            case .statusLineInvalid: "invalid status line"
            case .statusCodeInvalid: "invalid status code"
            case .lineEndingInvalid: "bare CR or LF"
            case .obsoleteLineFolding: "obsolete header line folding"
            case .fieldNameInvalid: "invalid header name"
            case .fieldValueInvalid: "invalid character in header value"
            case .tooManyHeaders: "too many headers"
            case .headTooLarge: "header section too large"
            case .requestLineTooLarge: "request line too large"
            case .hostMissing: "missing Host header"
            case .hostDuplicated: "several Host headers"
            case .contentLengthInvalid: "invalid Content-Length"
            case .contentLengthConflict: "conflicting Content-Length values"
            case .contentLengthWithTransferEncoding: "Content-Length with Transfer-Encoding"
            case .transferEncodingInvalid: "invalid Transfer-Encoding"
            case .transferCodingNotImplemented: "unsupported transfer coding"
            case .transferEncodingInHTTP10: "Transfer-Encoding in HTTP/1.0"
            case .chunkSizeInvalid: "invalid chunk size"
            case .chunkSizeTooLarge: "chunk size too large"
            case .chunkExtensionInvalid: "invalid chunk extension"
            case .chunkDataUnterminated: "missing CRLF after chunk data"
            case .trailerInvalid: "invalid trailer field"
            case .bodyTruncated: "connection closed inside the body"
            }
        }

        public var description: String { reason.description }

        /// The status a proxy answers a client whose request broke this rule.
        public var requestStatus: Int {
            switch self {
            case .tooManyHeaders, .headTooLarge: 431
            case .requestLineTooLarge: 414
            case .transferCodingNotImplemented: 501
            case .versionNotSupported: 505
            default: 400
            }
        }
    }
}

/// Which side sent a message: decides the status of an error (4xx/5xx to
/// the client for its request, 502 for a server's response) and the rules
/// that differ between the two (Host, `untilClose`, bodiless statuses).
public enum HTTPMessageKind: Sendable, Equatable {
    /// Sent by the client side.
    case request
    /// Sent by the server side.
    case response
}
