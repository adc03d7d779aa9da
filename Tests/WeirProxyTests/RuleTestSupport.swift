import Glibc
import Testing
import WeirConfig
import WeirHTTP
import WeirSystem
@testable import WeirProxy

/// A rules engine over a configuration written as text, fed requests and
/// responses as bytes: no worker, no socket.
struct RuleHarness: ~Copyable {
    var engine: RuleEngine
    let configuration: Configuration
    private var headers: HeaderTable
    /// The message under analysis; views into it stay valid until the next one.
    private let message: UnsafeMutableRawPointer
    private let capacity = 16384
    private(set) var request: RequestHead?
    var peer = PeerAddress(SocketAddress(ip: [10, 1, 2, 3], port: 40000))
    var local = SocketAddress(ip: [192, 168, 0, 1], port: 8080)

    init(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let result = ConfigParser.parse([ConfigFile(name: "t.cfg", bytes: Array(text.utf8))], environment: [:])
        let errors = result.diagnostics.filter { $0.severity == .error }.map { $0.rendered() }
        let configuration = try #require(result.configuration, "config errors: \(errors)", sourceLocation: sourceLocation)
        let compiled = try RuleCompiler.compile(configuration)
        self.configuration = configuration
        headers = HeaderTable(capacity: 101)
        engine = RuleEngine(compiled: compiled, arenaSize: 16384, maxHeaders: 101, sessionCapacity: 4)
        engine.sessions.startSession(0)
        message = .allocate(byteCount: capacity, alignment: 8)
    }

    deinit { message.deallocate() }

    var input: SampleInput {
        SampleInput(slot: 0, peer: peer, local: local, frontend: 0)
    }

    private func load(_ text: String) -> UnsafeRawBufferPointer {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { message.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        return UnsafeRawBufferPointer(start: message, count: bytes.count)
    }

    /// Parses `text` (a request head, `\n` line ends allowed) and starts the rules on it.
    mutating func begin(request text: String) throws {
        let head = load(text.contains("\r\n") ? text : text.replacingOccurrences("\n", "\r\n"))
        let parsed = try HTTPParser.parseRequest(head, headers: &headers, limits: HTTPLimits())
        request = parsed
        engine.beginRequest(head: head, headers: headers, request: parsed, input: input)
    }

    mutating func begin(response text: String, backend: Int = 0) throws {
        let head = load(text.contains("\r\n") ? text : text.replacingOccurrences("\n", "\r\n"))
        let parsed = try HTTPParser.parseResponse(head, requestMethod: .get, headers: &headers, limits: HTTPLimits())
        var responseInput = input
        responseInput.backend = backend
        engine.beginResponse(head: head, headers: headers, response: parsed, input: responseInput)
    }

    /// The backend `use_backend` picks for the request (its name, or "-").
    mutating func route(_ text: String) throws -> String {
        try begin(request: text)
        let index = engine.chooseBackend(frontend: 0)
        return index >= 0 ? configuration.backends[index].name : "-"
    }

    /// What the worker does per request: the frontend's planned
    /// http-request rules, then `use_backend` over the plan (`RulePlan`).
    mutating func routePlanned(_ text: String) throws -> String {
        try begin(request: text)
        let plan = engine.plan.frontend(0)
        guard case .proceed = engine.run(plan.pointee.requestRules) else { return "answered" }
        let index = engine.chooseBackend(plan)
        return index >= 0 ? configuration.backends[index].name : "-"
    }

    /// Runs the frontend's http-request rules, then its redirect rules.
    mutating func runRequestRules() -> RuleVerdict {
        let verdict = engine.run(engine.compiled.frontends[0].requestRules)
        if case .proceed = verdict { return engine.run(engine.compiled.frontends[0].redirectRules) }
        return verdict
    }

    mutating func runResponseRules() -> RuleVerdict {
        engine.run(engine.compiled.frontends[0].responseRules)
    }

    /// Every value of the fields named `name` as the rules left them.
    func fields(_ name: String) -> [String] {
        var out: [String] = []
        for i in 0..<engine.fieldCount where !engine.fields[i].removed
            && String(decoding: engine.fields[i].name, as: UTF8.self).lowercased() == name.lowercased() {
            out.append(String(decoding: engine.fields[i].value, as: UTF8.self))
        }
        return out
    }

    /// The names of the fields left, in order.
    func fieldNames() -> [String] {
        (0..<engine.fieldCount).filter { !engine.fields[$0].removed }
            .map { String(decoding: engine.fields[$0].name, as: UTF8.self) }
    }

    /// `METHOD TARGET` as it would be sent.
    mutating func requestLine() -> String {
        let method = String(decoding: engine.method, as: UTF8.self)
        let target = engine.currentTarget().map { String(decoding: $0, as: UTF8.self) } ?? "?"
        return method + " " + target
    }

    /// Writes the answer for `verdict` as the worker would, as text.
    mutating func answerText(_ verdict: RuleVerdict, connection: AnswerConnection = .close) -> String {
        let out = UnsafeMutableRawPointer.allocate(byteCount: 16384, alignment: 8)
        defer { out.deallocate() }
        var writer = HeadWriter(out, capacity: 16384)
        switch verdict {
        case .redirect(let redirect): _ = engine.writeRedirect(redirect, into: &writer, connection: connection)
        case .answer(let answer): _ = engine.writeReturn(answer, into: &writer, connection: connection, omitBody: false)
        case .auth(let realm): engine.writeAuthChallenge(realm: realm, into: &writer, connection: connection, omitBody: false)
        default: return "\(verdict)"
        }
        return String(decoding: writer.written, as: UTF8.self)
    }
}

extension String {
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

/// A frontend `f` in mode http with the given lines, and backends b0…b3.
func routingConfig(_ lines: String, extra: String = "") -> String {
    """
    defaults
        mode http
        timeout connect 1s
        timeout client 1s
        timeout server 1s
    frontend f
        bind 127.0.0.1:0
    \(lines)
        default_backend b0
    backend b0
    backend b1
    backend b2
    backend b3
    \(extra)
    """
}

/// A file with `lines`, removed by the caller.
func temporaryFile(_ contents: String) -> String {
    var template = Array("/tmp/weir-rules-XXXXXX".utf8CString)
    let fd = mkstemp(&template)
    let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    _ = contents.withCString { write(fd, $0, strlen($0)) }
    Glibc.close(fd)
    return path
}
