import WeirHTTP

/// The complete responses the proxy sends on its own behalf, built once per
/// worker: a status line, `content-type: text/html`, `cache-control:
/// no-cache`, `connection: close`, and a short HTML page saying what went wrong.
struct ErrorPages {
    private var pages: [Int: [UInt8]] = [:]

    static let statuses = [400, 401, 403, 404, 405, 407, 408, 410, 413, 414, 421, 425, 429, 431,
                           500, 501, 502, 503, 504, 505]

    /// `extraStatuses`: statuses the rules answer with (`deny_status`…), built
    /// now too so that answering never builds a page.
    init(extraStatuses: Set<Int> = []) {
        for status in Set(Self.statuses).union(extraStatuses) { pages[status] = Self.build(status) }
    }

    /// The page for `status`; an unknown status gets a generic page built on the spot.
    func page(for status: Int) -> [UInt8] {
        pages[status] ?? Self.build(status)
    }

    private static func build(_ status: Int) -> [UInt8] {
        let reason = HTTPStatus.reason(status).description
        let body = "<html><body><h1>\(status) \(reason)</h1>\n\(explanation(status))\n</body></html>\n"
        let head = "HTTP/1.1 \(status) \(reason)\r\ncontent-length: \(body.utf8.count)\r\n"
            + "cache-control: no-cache\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n"
        return Array((head + body).utf8)
    }

    private static func explanation(_ status: Int) -> String {
        switch status {
        case 400: return "The request is not valid HTTP."
        case 401: return "Authentication is required to reach this resource."
        case 403: return "Access to this resource is denied."
        case 404: return "No such resource here."
        case 405: return "This method is not allowed."
        case 408: return "The request was not received in time."
        case 413: return "The request body is too large."
        case 414: return "The request line is too long."
        case 429: return "Too many requests: try again later."
        case 431: return "The request header fields are too large."
        case 500: return "The proxy failed while handling the request."
        case 501: return "This request is not supported."
        case 502: return "The server returned an invalid or incomplete response."
        case 503: return "No server is available to handle this request."
        case 504: return "The server did not respond in time."
        case 505: return "This HTTP version is not supported."
        default: return "The request could not be served."
        }
    }
}
