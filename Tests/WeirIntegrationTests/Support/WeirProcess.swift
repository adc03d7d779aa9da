import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Collects the lines a child writes to one pipe, on a background thread.
final class LineCollector: @unchecked Sendable {
    private struct State {
        var lines: [String] = []
        var partial: [UInt8] = []
        var closed = false
    }

    private let state = Mutex(State())
    private let condition = NSCondition()
    /// While paused the pipe is not read: the writer sees a stalled reader.
    private let gate = NSCondition()
    private var paused = false

    init(fd: Int32) {
        let thread = Thread { [self] in pump(fd) }
        thread.stackSize = 1 << 20
        thread.start()
    }

    private func pump(_ fd: Int32) {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            gate.lock()
            while paused { gate.wait() }
            gate.unlock()
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            condition.lock()
            state.withLock { s in
                if n > 0 {
                    s.partial.append(contentsOf: chunk[0..<n])
                    while let i = s.partial.firstIndex(of: UInt8(ascii: "\n")) {
                        s.lines.append(String(decoding: s.partial[..<i], as: UTF8.self))
                        s.partial.removeFirst(i + 1)
                    }
                } else {
                    if !s.partial.isEmpty { s.lines.append(String(decoding: s.partial, as: UTF8.self)) }
                    s.partial = []
                    s.closed = true
                }
            }
            condition.broadcast()
            condition.unlock()
            if n <= 0 { break }
        }
        close(fd)
    }

    /// Stops reading the pipe (after the read in progress, if any).
    func pause() {
        gate.lock()
        paused = true
        gate.unlock()
    }

    func resume() {
        gate.lock()
        paused = false
        gate.broadcast()
        gate.unlock()
    }

    var lines: [String] { state.withLock { $0.lines } }
    var text: String { lines.joined(separator: "\n") }
    var isClosed: Bool { state.withLock { $0.closed } }

    /// The first line satisfying `predicate`, waiting up to `timeout` seconds for it.
    func waitForLine(timeout: Double = 10, where predicate: (String) -> Bool) -> String? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            let (lines, closed) = state.withLock { ($0.lines, $0.closed) }
            if let line = lines.first(where: predicate) { return line }
            if closed { return nil }
            if !condition.wait(until: deadline) {
                return state.withLock { $0.lines }.first(where: predicate)
            }
        }
    }

    /// Waits until the writer closed the pipe.
    @discardableResult
    func waitForClose(timeout: Double = 10) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while !isClosed {
            if !condition.wait(until: deadline) { return isClosed }
        }
        return true
    }
}

/// Where the `weir` binary is: `WEIR_BINARY`, or beside the test bundle in `.build/<triple>/debug/`.
func weirBinaryPath() -> String {
    if let path = ProcessInfo.processInfo.environment["WEIR_BINARY"], !path.isEmpty { return path }
    var candidates: [String] = []
    if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        var dir = (exe as NSString).deletingLastPathComponent
        for _ in 0..<4 {
            candidates.append(dir + "/weir")
            dir = (dir as NSString).deletingLastPathComponent
        }
    }
    for arg in [CommandLine.arguments.first ?? ""] where !arg.isEmpty {
        candidates.append(((arg as NSString).deletingLastPathComponent) + "/weir")
    }
    candidates.append(FileManager.default.currentDirectoryPath + "/.build/debug/weir")
    for c in candidates where FileManager.default.isExecutableFile(atPath: c) { return c }
    return candidates.first ?? "weir"
}

/// A temporary config file, removed by `remove()`.
struct TempFile {
    let path: String

    init(_ contents: String, name: String = "weir.cfg") throws {
        let dir = NSTemporaryDirectory() + "weir-it-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        path = dir + "/" + name
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
    }
}

private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

/// glibc's `posix_spawn_file_actions_addclosefrom_np`, which the Glibc module
/// does not import (it is behind `_GNU_SOURCE`).
private let addCloseFrom: AddCloseFrom? = {
    guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
    return unsafeBitCast(symbol, to: AddCloseFrom.self)
}()

/// A running `weir` child, spawned with posix_spawn (never fork: the test
/// runner is multi-threaded), its stdout and stderr collected line by line.
final class WeirProcess: @unchecked Sendable {
    let pid: pid_t
    let stdout: LineCollector
    let stderr: LineCollector
    private let exitStatus = Mutex<Int32?>(nil)
    private var config: TempFile?

    struct SpawnFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// Spawns `weir arguments`; `inherit` is passed as fd 3 (for `bind fd@3`).
    init(arguments: [String], inherit: Int32? = nil) throws {
        let outPipe = try closeOnExecPipe()
        let errPipe: [Int32]
        do { errPipe = try closeOnExecPipe() } catch {
            close(outPipe[0])
            close(outPipe[1])
            throw error
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        if let inherit { posix_spawn_file_actions_adddup2(&actions, inherit, 3) }
        if let addCloseFrom { _ = addCloseFrom(&actions, inherit == nil ? 3 : 4) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child starts with default signal dispositions and an empty mask.
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let binary = weirBinaryPath()
        let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, binary, &actions, &attributes, argv, environ)
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            throw SpawnFailure(description: "posix_spawn \(binary): \(String(cString: strerror(rc)))")
        }
        pid = child
        stdout = LineCollector(fd: outPipe[0])
        stderr = LineCollector(fd: errPipe[0])
    }

    deinit { stop() }

    /// Starts `weir -d -f <config>` and waits for `Loading success.`.
    static func start(config text: String, extraArguments: [String] = [], inherit: Int32? = nil,
                      timeout: Double = 30) throws -> WeirProcess {
        let file = try TempFile(text)
        let process: WeirProcess
        do {
            process = try WeirProcess(arguments: ["-d", "-f", file.path] + extraArguments, inherit: inherit)
        } catch {
            file.remove()
            throw error
        }
        process.config = file
        guard process.stderr.waitForLine(timeout: timeout, where: { $0.contains("Loading success.") }) != nil else {
            let err = process.stderr.text
            process.stop()
            throw SpawnFailure(description: "weir did not report 'Loading success.'; stderr:\n\(err)")
        }
        return process
    }

    /// Runs `weir arguments` to completion (bounded) and returns its status and output.
    static func run(_ arguments: [String], timeout: Double = 30) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = try WeirProcess(arguments: arguments)
        defer { process.stop() }
        guard let status = process.waitForExit(timeout: timeout) else {
            throw SpawnFailure(description: "weir \(arguments) did not exit within \(timeout)s")
        }
        process.stdout.waitForClose(timeout: 5)
        process.stderr.waitForClose(timeout: 5)
        return (status, process.stdout.text, process.stderr.text)
    }

    /// The port of the listener `Proxy <frontend> listening on ADDR` announced
    /// (the `index`-th such line for that proxy).
    func port(of frontend: String, index: Int = 0) throws -> UInt16 {
        let prefix = "Proxy \(frontend) listening on "
        let matching = stderr.lines.filter { $0.contains(prefix) }
        guard index < matching.count, let range = matching[index].range(of: prefix),
              let colon = matching[index][range.upperBound...].lastIndex(of: ":"),
              let port = UInt16(matching[index][matching[index].index(after: colon)...].trimmingCharacters(in: .whitespaces))
        else {
            throw SpawnFailure(description: "no '\(prefix)' line #\(index) in stderr:\n\(stderr.text)")
        }
        return port
    }

    /// The tcplog line of the connection whose client port was `clientPort`.
    /// The first tcplog line of the client at `clientPort` (and `clientAddress`
    /// when given: clients bound to other loopback addresses may reuse a port).
    func logLine(clientPort: UInt16, clientAddress: String? = nil, timeout: Double = 10) -> TCPLogLine? {
        stdout.waitForLine(timeout: timeout) { text in
            guard let line = TCPLogLine(text) else { return false }
            return line.clientPort == clientPort && (clientAddress == nil || line.clientAddress == clientAddress)
        }.flatMap(TCPLogLine.init)
    }

    /// Every tcplog line so far.
    var logLines: [TCPLogLine] { stdout.lines.compactMap(TCPLogLine.init) }

    func signal(_ signal: Int32) {
        if exitStatus.withLock({ $0 }) == nil { kill(pid, signal) }
    }

    /// The exit status once the process ended (nil if it is still running after `timeout`).
    func waitForExit(timeout: Double) -> Int32? {
        var result: Int32?
        _ = waitUntil(timeout: timeout) {
            result = reap()
            return result != nil
        }
        return result
    }

    /// Reaps the child if it ended; its exit status (128+signal when killed).
    private func reap() -> Int32? {
        exitStatus.withLock { cached in
            if let cached { return cached }
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            guard r == pid else { return nil }
            let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            cached = code
            return code
        }
    }

    /// Kills the process if it still runs and reaps it; removes its config file.
    func stop() {
        if reap() == nil {
            kill(pid, SIGKILL)
            _ = waitForExit(timeout: 10)
        }
        config?.remove()
        config = nil
    }
}

/// One HAProxy `option tcplog` line:
/// `%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq`.
struct TCPLogLine: CustomStringConvertible {
    var raw: String
    var clientAddress: String
    var clientPort: UInt16
    var frontend: String
    var backend: String
    var server: String
    var queueTime: Int
    var connectTime: Int
    var totalTime: Int
    var bytes: Int
    var termination: String
    var counters: [String]
    var retries: String
    var queues: String

    var description: String { raw }

    init?(_ line: String) {
        let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard f.count >= 9, f[1].hasPrefix("["), f[1].hasSuffix("]") else { return nil }
        guard let colon = f[0].lastIndex(of: ":"), let port = UInt16(f[0][f[0].index(after: colon)...]) else { return nil }
        let bs = f[3].split(separator: "/", maxSplits: 1).map(String.init)
        let times = f[4].split(separator: "/").compactMap { Int($0) }
        let counters = f[7].split(separator: "/").map(String.init)
        guard bs.count == 2, times.count == 3, let bytes = Int(f[5]), f[6].count == 2, counters.count == 5 else { return nil }
        raw = line
        clientAddress = String(f[0][..<colon])
        clientPort = port
        frontend = f[2]
        backend = bs[0]
        server = bs[1]
        queueTime = times[0]
        connectTime = times[1]
        totalTime = times[2]
        self.bytes = bytes
        termination = f[6]
        self.counters = counters
        retries = counters[4]
        queues = f[8]
    }
}
