import WeirHTTP

/// Where the request of the current exchange stands, client side.
enum RequestProgress: UInt8 {
    /// Waiting for or reading the head.
    case head
    /// Head forwarded, body streaming.
    case body
    /// The whole request was analysed; later bytes belong to the next one.
    case complete
}

/// Where the response of the current exchange stands, server side.
enum ResponseProgress: UInt8 {
    /// Nothing sent to a server yet.
    case idle
    /// Request sent (at least its head): waiting for or reading the response head.
    case head
    case body
    case complete
    /// `101 Switching Protocols`: once both heads are out, bytes flow as in a tunnel.
    case tunnel
}

/// One request/response exchange on an HTTP session (HAProxy's *stream*).
/// Reset when a keep-alive connection starts its next request.
struct HTTPExchange {
    var request = RequestProgress.head
    var response = ResponseProgress.idle
    var requestScanner = HeadScanner()
    var responseScanner = HeadScanner()
    /// The head was parsed once from what had arrived and did not parse (it
    /// was incomplete, most often): from then on the scanner says when it
    /// is whole, so a head arriving in pieces is not parsed again and again.
    var requestHeadScanned = false
    var responseHeadScanned = false
    var requestBody = BodyTracker(framing: .none)
    var responseBody = BodyTracker(framing: .none)
    var method = HTTPMethod.get
    /// The client may send another request after this one.
    var clientKeepAlive = false
    /// The request said `Connection: close` (or was HTTP/1.0 without keep-alive).
    var clientClosesAfterResponse = false
    /// The server connection may carry another request after this one.
    var serverKeepAlive = false
    var upgradeRequested = false
    /// The client's HTTP/1.x minor version.
    var clientMinor: Int8 = 1
    /// Status sent to the client (the server's, or the proxy's own), 0 before one is known.
    var status: Int32 = 0
    /// Monotonic ms: when the request's first byte was awaited (accept, or
    /// the end of the previous exchange), and when its head was complete.
    var waitStart: Int64 = 0
    var firstByteAt: Int64 = -1
    var requestHeadAt: Int64 = -1
    var requestSentAt: Int64 = -1
    var responseHeadAt: Int64 = -1
    /// Wall-clock ms when the request's first byte was awaited, for the log date.
    var waitStartWall: Int64 = 0
    /// The request head's size as the client sent it.
    var requestHeadLength: Int32 = 0
    /// Bytes sent to the client.
    var responseBytes: Int64 = 0
    /// A pooled buffer holding the request line for the log, or -1.
    var requestLine: Int32 = -1
    var requestLineLength: Int32 = 0
    /// Exchanges completed on this session before this one.
    var served: Int32 = 0
    /// The request has a body (Content-Length or chunked).
    var requestHasBody = false
    /// The server connection came from the idle pool.
    var reusedConnection = false
    /// The exchange has begun: a request byte arrived (it is logged if it ends).
    var started = false
    /// The proxy itself told the client `100 Continue` (a form posted to the stats page).
    var sentContinue = false
    /// A `monitor-uri` request: answered by the proxy and not logged.
    var monitor = false
    /// `http-send-name-header`: where the server's name goes in the request
    /// head written for the server (its prefix buffer); -1 without.
    var serverNameAt: Int32 = -1
    /// `balance uri|url_param|hdr|hash`: the hash key of the request, taken
    /// at its first server pick (while the rules engine holds the request)
    /// and used again by a pick from the queue or a redispatch; nil: the
    /// request has no key (round robin).
    var balanceKey: UInt64?
    var balanceKeyTaken = false
    /// What cookie persistence decided (CookiePersistence.swift).
    var cookie = CookieExchange()
    /// `compression`: the algorithm the request negotiated; `.none` when
    /// the response goes as the server sent it.
    var compression = CompressionChoice.none
    /// The response body is being compressed (its head said it could be);
    /// the encoder's state is the session's `deflate`.
    var compressing = false
    /// `%rt`: the worker's stream count when the exchange was first logged
    /// or given a unique id; -1 before.
    var streamID: Int64 = -1
}

extension HTTPExchange {
    /// What the client sent of this exchange: its head as received, then
    /// the body (`%U`, `bin`).
    var clientRequestBytes: Int64 { Int64(requestHeadLength) + requestBody.consumedBytes }
}
