/// Limits for one message head.
public struct HTTPLimits: Sendable {
    /// The largest head accepted, request or status line and final empty line
    /// included: `tune.bufsize` minus `tune.maxrewrite` (16384 - 1024 by default),
    /// so a head always leaves room in its buffer for the rewrites the proxy adds.
    public var maxHeadBytes: Int
    /// The most header fields in one head (`tune.http.maxhdr`, default 101).
    public var maxHeaders: Int

    public init(maxHeadBytes: Int = 15360, maxHeaders: Int = 101) {
        self.maxHeadBytes = maxHeadBytes
        self.maxHeaders = maxHeaders
    }
}
