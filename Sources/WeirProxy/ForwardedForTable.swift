/// `option forwardfor` of every frontend and backend, laid out for the
/// request path: the header name as bytes the table owns, so reading it
/// copies no array (no retain and release per request). The `except`
/// networks stay in `ForwardedFor`, read only when there are some.
struct ForwardedForTable: ~Copyable {
    struct Entry {
        /// The option is set: the proxy adds the header.
        let isSet: Bool
        let header: UnsafeRawBufferPointer
        let ifNone: Bool
        let hasExceptions: Bool
    }

    private let frontends: UnsafeMutableBufferPointer<Entry>
    private let backends: UnsafeMutableBufferPointer<Entry>
    private let names: UnsafeMutableRawBufferPointer

    init(frontends: [ForwardedFor?], backends: [ForwardedFor?]) {
        let all = frontends + backends
        names = .allocate(byteCount: max(all.reduce(0) { $0 + ($1?.header.count ?? 0) }, 1), alignment: 1)
        var offset = 0
        let names = self.names
        func entry(_ option: ForwardedFor?) -> Entry {
            guard let option else {
                return Entry(isSet: false, header: UnsafeRawBufferPointer(start: nil, count: 0), ifNone: false,
                             hasExceptions: false)
            }
            let start = names.baseAddress! + offset
            option.header.withUnsafeBytes { if let bytes = $0.baseAddress { start.copyMemory(from: bytes, byteCount: $0.count) } }
            offset += option.header.count
            return Entry(isSet: true, header: UnsafeRawBufferPointer(start: start, count: option.header.count),
                         ifNone: option.ifNone, hasExceptions: !option.except.isEmpty)
        }
        self.frontends = .allocate(capacity: max(frontends.count, 1))
        _ = self.frontends.initialize(from: frontends.map(entry))
        self.backends = .allocate(capacity: max(backends.count, 1))
        _ = self.backends.initialize(from: backends.map(entry))
    }

    deinit {
        frontends.deallocate()
        backends.deallocate()
        names.deallocate()
    }

    /// What applies to a request from `frontend` to `backend`: the backend's
    /// option, else the frontend's.
    @inline(__always)
    func entry(frontend: Int, backend: Int) -> Entry {
        let fromBackend = backends[backend]
        return fromBackend.isSet ? fromBackend : frontends[frontend]
    }
}
