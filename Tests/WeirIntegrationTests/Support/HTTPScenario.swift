import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A `mode http` configuration with httplog on stdout: frontend `fe` on an
/// ephemeral loopback port, backend `be` with `backend` lines.
func httpConfig(backend: String, frontend: String = "", defaults: String = "", global: String = "") -> String {
    """
    global
        log stdout format raw local0
    \(global)

    defaults
        mode http
        log global
        option httplog
        timeout connect 2s
        timeout client 30s
        timeout server 30s
    \(defaults)

    frontend fe
        bind 127.0.0.1:0
        default_backend be
    \(frontend)

    backend be
    \(backend)
    """
}

/// `count` HTTP servers named s1…sN, each answering with its name in
/// `x-served-by`; the ones started are stopped when one fails to start.
func namedHTTPServers(_ count: Int) throws -> [HTTPBackend] {
    var backends: [HTTPBackend] = []
    do {
        for i in 1...count { backends.append(try HTTPBackend(name: "s\(i)")) }
    } catch {
        for b in backends { b.stop() }
        throw error
    }
    return backends
}

/// One GET on a fresh connection to `port`: the name of the server that answered.
func servedFresh(_ port: UInt16, _ target: String, headers: [String] = [],
                 sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    let connection = try HTTPConnection(port: port)
    defer { connection.close() }
    try connection.request("GET", target, headers: headers)
    let response = try connection.readResponse()
    #expect(response.status == 200, "\(target): \(response)", sourceLocation: sourceLocation)
    return response.headers.value("x-served-by") ?? "?"
}

/// `server sN` lines for the HTTP backends, in order.
func httpServerLines(_ backends: [HTTPBackend], extras: String = "") -> String {
    backends.enumerated().map { i, b in
        "    server s\(i + 1) \(b.address)" + (extras.isEmpty ? "" : " " + extras)
    }.joined(separator: "\n")
}

/// One `option httplog` line:
/// `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq "%r"`.
/// A line cut at the log length limit (1024 by default) has no closing quote.
struct HTTPLogLine: CustomStringConvertible {
    var raw: String
    var clientAddress: String
    var clientPort: UInt16
    var date: String
    var frontend: String
    var backend: String
    var server: String
    /// TR, Tw, Tc, Tr, Ta.
    var timers: [Int]
    var status: Int
    var bytes: Int
    var cookies: String
    var termination: String
    /// ac, fc, bc, sc.
    var connections: [Int]
    var retries: String
    var serverQueue: Int
    var backendQueue: Int
    var request: String

    var description: String { raw }

    private nonisolated(unsafe) static let pattern = try! Regex(
        #"^(\S+):(\d+) \[([^\]]+)\] (\S+) ([^/ ]+)/(\S+) (-?\d+)/(-?\d+)/(-?\d+)/(-?\d+)/\+?(-?\d+) (-?\d+) \+?(\d+) (\S+ \S+) (\S{4}) (\d+)/(\d+)/(\d+)/(\d+)/(\+?\d+) (\d+)/(\d+) (?:\{[^}]*\} )*"(.*?)"?$"#)

    init?(_ line: String) {
        guard let m = try? Self.pattern.wholeMatch(in: line) else { return nil }
        func s(_ i: Int) -> String { m.output[i].substring.map(String.init) ?? "" }
        func n(_ i: Int) -> Int { Int(s(i)) ?? Int.min }
        guard let port = UInt16(s(2)) else { return nil }
        raw = line
        clientAddress = s(1)
        clientPort = port
        date = s(3)
        frontend = s(4)
        backend = s(5)
        server = s(6)
        timers = [n(7), n(8), n(9), n(10), n(11)]
        status = n(12)
        bytes = n(13)
        cookies = s(14)
        termination = s(15)
        connections = [n(16), n(17), n(18), n(19)]
        retries = s(20)
        serverQueue = n(21)
        backendQueue = n(22)
        request = s(23)
    }

    var headerTime: Int { timers[0] }
    var queueTime: Int { timers[1] }
    var connectTime: Int { timers[2] }
    var responseTime: Int { timers[3] }
    var activeTime: Int { timers[4] }
}

/// A `weir` in HTTP mode plus its HTTP backends, all stopped by `close()`.
final class HTTPScenario: @unchecked Sendable {
    let weir: WeirProcess
    let backends: [HTTPBackend]
    let port: UInt16

    init(config: String, backends: [HTTPBackend]) throws {
        self.backends = backends
        do {
            weir = try WeirProcess.start(config: config)
        } catch {
            for b in backends { b.stop() }
            throw error
        }
        do {
            port = try weir.port(of: "fe")
        } catch {
            weir.stop()
            for b in backends { b.stop() }
            throw error
        }
    }

    /// A scenario with the default skeleton around `backend` lines.
    convenience init(backends: [HTTPBackend], backend extra: String = "", frontend: String = "", defaults: String = "") throws {
        let lines = (extra.isEmpty ? "" : extra + "\n") + httpServerLines(backends)
        try self.init(config: httpConfig(backend: lines, frontend: frontend, defaults: defaults), backends: backends)
    }

    func close() {
        weir.stop()
        for b in backends { b.stop() }
    }

    func connect(ioTimeout: Double = 10) throws -> HTTPConnection {
        try HTTPConnection(port: port, ioTimeout: ioTimeout)
    }

    /// Every httplog line so far.
    var logLines: [HTTPLogLine] { weir.stdout.lines.compactMap(HTTPLogLine.init) }

    /// The httplog lines of the connection from `clientPort`, waiting until there are `count` of them.
    func logs(clientPort: UInt16, count: Int = 1, timeout: Double = 10,
              sourceLocation: SourceLocation = #_sourceLocation) throws -> [HTTPLogLine] {
        var found: [HTTPLogLine] = []
        let ok = waitUntil(timeout: timeout) {
            found = logLines.filter { $0.clientPort == clientPort }
            return found.count >= count
        }
        try #require(ok, "expected \(count) httplog line(s) for client port \(clientPort), found \(found.count); stdout:\n\(weir.stdout.text)\nstderr:\n\(weir.stderr.text)",
                     sourceLocation: sourceLocation)
        return found
    }

    /// The (first) httplog line of the connection from `clientPort`.
    func log(clientPort: UInt16, timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) throws -> HTTPLogLine {
        try logs(clientPort: clientPort, count: 1, timeout: timeout, sourceLocation: sourceLocation)[0]
    }

    func log(of connection: HTTPConnection, timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) throws -> HTTPLogLine {
        try log(clientPort: connection.localPort, timeout: timeout, sourceLocation: sourceLocation)
    }

    /// VmRSS and VmHWM of the weir process, in KiB.
    func memory() -> (rss: Int, peak: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(weir.pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return nil }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        guard let rss = field("VmRSS"), let peak = field("VmHWM") else { return nil }
        return (rss, peak)
    }
}

/// Runs an external program (curl) to completion, bounded; its exit status and output.
func runTool(_ path: String, _ arguments: [String], timeout: Double = 60) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Drain both pipes concurrently so a chatty child never blocks on a full pipe.
    let outData = LockedData()
    let errData = LockedData()
    let group = DispatchGroup()
    for (pipe, sink) in [(out, outData), (err, errData)] {
        group.enter()
        Thread {
            sink.set(pipe.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }.start()
    }
    if group.wait(timeout: .now() + timeout) == .timedOut {
        process.terminate()
        _ = group.wait(timeout: .now() + 5)
    }
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData.get(), as: UTF8.self), String(decoding: errData.get(), as: UTF8.self))
}

private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}

let curlPath = "/usr/bin/curl"
var hasCurl: Bool { FileManager.default.isExecutableFile(atPath: curlPath) }
