import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

// Support for the master/worker scenario tests: a master spawned from any
// binary with any environment, its master CLI, `show proc` parsed, load
// generators that count every failure, and a systemd notify socket.

// MARK: - Configuration

/// A `mode tcp` configuration for the master tests: `nbthread` workers,
/// frontend `fe` with `binds` (default one ephemeral loopback port) in front of
/// backend `be` with one server at `server`. No logging unless `log` is set.
func masterConfig(server: String, binds: [String] = ["127.0.0.1:0"], nbthread: Int = 2, global: String = "",
                  log: Bool = false, extraSections: String = "") -> String {
    """
    global
        nbthread \(nbthread)
    \(log ? "    log stdout format raw local0" : "")
    \(global)

    defaults
        mode tcp
    \(log ? "    log global\n    option tcplog" : "")
        timeout connect 2s
        timeout client 30s
        timeout server 30s

    frontend fe
    \(binds.map { "    bind \($0)" }.joined(separator: "\n"))
        default_backend be

    backend be
        server s1 \(server)
    \(extraSections)
    """
}

/// A loopback port that is free right now (bound to port 0, then closed), for
/// configurations that must name a fixed port.
func freeLoopbackPort() throws -> UInt16 { try Sock.refusedPort() }

// MARK: - Processes

private typealias MasterAddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
private let masterAddCloseFrom: MasterAddCloseFrom? = {
    guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
    return unsafeBitCast(symbol, to: MasterAddCloseFrom.self)
}()

/// `worker SLOT (pid P) ready` as the master logs it.
struct WorkerReadyLine: Equatable, Sendable {
    var slot: Int
    var pid: pid_t

    init?(_ line: String) {
        guard line.hasSuffix(" ready"), let w = line.range(of: "worker "), let p = line.range(of: " (pid ") else { return nil }
        guard let slot = Int(line[w.upperBound..<p.lowerBound]) else { return nil }
        let rest = line[p.upperBound...]
        guard let close = rest.firstIndex(of: ")"), let pid = pid_t(rest[..<close]) else { return nil }
        self.slot = slot
        self.pid = pid
    }
}

/// The parent pid of `pid` from `/proc/PID/stat`, nil if the process is gone.
func parentPID(of pid: pid_t) -> pid_t? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // After the command: state, ppid, …
    guard fields.count > 2, let ppid = pid_t(fields[1]) else { return nil }
    // A zombie has not exited for our purposes only if it is not reaped: count it as gone.
    if fields[0] == "Z" { return nil }
    return ppid
}

/// Whether `pid` is a live (non-zombie) process.
func processIsAlive(_ pid: pid_t) -> Bool { parentPID(of: pid) != nil }

/// A `weir` started in master-worker mode from `binary`, with `environment`
/// added to (or, for nil values, removed from) the test's own; its stdout and
/// stderr collected line by line. `stop()` kills the master and every worker
/// it announced.
final class MasterProcess: @unchecked Sendable {
    let pid: pid_t
    let stdout: LineCollector
    let stderr: LineCollector
    private let exitStatus = Mutex<Int32?>(nil)

    /// `inherit` is passed as the child's fd 3 (for `-S fd@3`).
    init(binary: String = weirBinaryPath(), arguments: [String], environment: [String: String?] = [:],
         inherit: Int32? = nil) throws {
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
        if let masterAddCloseFrom { _ = masterAddCloseFrom(&actions, inherit == nil ? 3 : 4) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var env = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "WEIR_MASTER_STATE_FD"] { env[key] = nil }
        for (key, value) in environment { env[key] = value }
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in envp { free(p) } }
        let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        var rc = posix_spawn(&child, binary, &actions, &attributes, argv, envp)
        // A binary the test just wrote can be "busy" for an instant: a process
        // that another test forked in the meantime holds its write descriptor
        // until it calls exec. Bounded retries outlast that window.
        var attempts = 0
        while rc == ETXTBSY && attempts < 200 {
            attempts += 1
            usleep(10_000)
            rc = posix_spawn(&child, binary, &actions, &attributes, argv, envp)
        }
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            throw WeirProcess.SpawnFailure(description: "posix_spawn \(binary): \(String(cString: strerror(rc)))")
        }
        pid = child
        stdout = LineCollector(fd: outPipe[0])
        stderr = LineCollector(fd: errPipe[0])
    }

    deinit { stop() }

    /// Every `worker N (pid P) ready` line so far, in order.
    var readyLines: [WorkerReadyLine] { stderr.lines.compactMap(WorkerReadyLine.init) }

    /// How many times the master said `Loading success.`.
    var loadingSuccesses: Int { count(of: "Loading success.") }

    /// Waits until the master said `Loading success.` at least `count` times.
    @discardableResult
    func waitForLoadingSuccess(count: Int, timeout: Double = 20) -> Bool {
        waitForCount(of: "Loading success.", atLeast: count, timeout: timeout)
    }

    /// How many stderr lines contain `text`.
    func count(of text: String) -> Int { stderr.lines.filter { $0.contains(text) }.count }

    /// Waits until at least `n` stderr lines contain `text` (or the master's stderr closed).
    @discardableResult
    func waitForCount(of text: String, atLeast n: Int, timeout: Double = 20) -> Bool {
        waitUntil(timeout: timeout) { count(of: text) >= n || stderr.isClosed } && count(of: text) >= n
    }

    /// The port of the `index`-th `Proxy NAME listening on ADDR` line.
    func port(of frontend: String, index: Int = 0) throws -> UInt16 {
        let prefix = "Proxy \(frontend) listening on "
        let matching = stderr.lines.filter { $0.contains(prefix) }
        guard index < matching.count, let colon = matching[index].lastIndex(of: ":"),
              let port = UInt16(matching[index][matching[index].index(after: colon)...].trimmingCharacters(in: .whitespaces))
        else {
            throw WeirProcess.SpawnFailure(description: "no '\(prefix)' line #\(index) in stderr:\n\(stderr.text)")
        }
        return port
    }

    func signal(_ signal: Int32) {
        if exitStatus.withLock({ $0 }) == nil { kill(pid, signal) }
    }

    /// The exit status once the master ended (128+signal when killed), nil if still running after `timeout`.
    func waitForExit(timeout: Double) -> Int32? {
        var result: Int32?
        _ = waitUntil(timeout: timeout) {
            result = reap()
            return result != nil
        }
        return result
    }

    var hasExited: Bool { reap() != nil }

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

    /// Kills the master and every worker it announced that is still its child.
    func stop() {
        let workers = readyLines.map(\.pid).filter { parentPID(of: $0) == pid }
        if reap() == nil {
            kill(pid, SIGKILL)
            _ = waitForExit(timeout: 10)
        }
        for worker in workers { kill(worker, SIGKILL) }
    }
}

// MARK: - A master with its files

/// A master started as `weir MODE -f DIR/weir.cfg -S DIR/master.sock -p DIR/weir.pid`
/// (plus `extraArguments`) in a fresh temporary directory, waited for until
/// `Loading success.`; `close()` stops it and removes the directory.
final class MasterHarness: @unchecked Sendable {
    let directory: String
    let configPath: String
    let socketPath: String
    let pidfilePath: String
    let master: MasterProcess
    var pid: pid_t { master.pid }

    /// `cliListener`: a listening AF_UNIX socket bound to `socketPath`, passed as
    /// fd 3 with `-S fd@3` instead of letting the master bind the path.
    init(config: String, mode: String? = "-W", extraArguments: [String] = [], binary: String = weirBinaryPath(),
         environment: [String: String?] = [:], waitForReady: Bool = true, timeout: Double = 30,
         cliListener: ((String) throws -> Int32)? = nil) throws {
        // Short: a socket path must fit in sun_path.
        directory = NSTemporaryDirectory() + "weir-m-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        configPath = directory + "/weir.cfg"
        socketPath = directory + "/master.sock"
        pidfilePath = directory + "/weir.pid"
        do {
            try config.write(toFile: configPath, atomically: false, encoding: .utf8)
            let inherited = try cliListener?(socketPath)
            defer { if let inherited { Glibc.close(inherited) } }
            master = try MasterProcess(binary: binary,
                                       arguments: (mode.map { [$0] } ?? [])
                                           + ["-f", configPath, "-S", inherited == nil ? socketPath : "fd@3", "-p", pidfilePath]
                                           + extraArguments,
                                       environment: environment, inherit: inherited)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        if waitForReady && !master.waitForLoadingSuccess(count: 1, timeout: timeout) {
            let err = master.stderr.text
            close()
            throw WeirProcess.SpawnFailure(description: "the master did not report 'Loading success.'; stderr:\n\(err)")
        }
    }

    deinit { close() }

    func close() {
        master.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Replaces the configuration file's contents (the master reads it on reload).
    func writeConfig(_ text: String) throws {
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// One master CLI command; the whole answer.
    func cli(_ command: String, timeout: Double = 30) throws -> String {
        try masterCLI(socketPath, command, timeout: timeout)
    }

    /// `show proc`, parsed (a parse failure throws with the raw text).
    func showProc() throws -> ProcTable { try ProcTable(parsing: cli("show proc", timeout: 10)) }

    /// CLI `reload`: whether it succeeded and the whole answer.
    func reload(timeout: Double = 30) throws -> (success: Bool, answer: String) {
        let answer = try cli("reload", timeout: timeout)
        return (answer.hasPrefix("Success=1\n"), answer)
    }

    /// SIGUSR2, then waits for the next `Loading success.` (reloads so far + 2 in total).
    func reloadBySignal(_ signal: Int32 = SIGUSR2, timeout: Double = 30) -> Bool {
        let before = master.loadingSuccesses
        master.signal(signal)
        return master.waitForLoadingSuccess(count: before + 1, timeout: timeout)
    }

    /// Waits until `show proc` lists no old (draining) worker; the last table seen.
    func waitForNoOldWorkers(timeout: Double) -> (done: Bool, last: ProcTable?) {
        var last: ProcTable?
        let done = waitUntil(timeout: timeout) {
            guard let table = try? showProc() else { return false }
            last = table
            if !table.old.isEmpty || !table.starting.isEmpty { usleep(50_000); return false }
            return true
        }
        return (done, last)
    }

    /// Records an issue for every line where the master reports a worker that
    /// died unexpectedly or by a signal (a crash: SIGILL, SIGSEGV, SIGABRT, …).
    func expectNoWorkerCrash(sourceLocation: SourceLocation = #_sourceLocation) {
        let crashes = master.stderr.lines.filter {
            ($0.contains("worker") && $0.contains("killed by signal")) || ($0.contains("[ALERT]") && $0.contains("exited"))
        }
        #expect(crashes.isEmpty, "workers crashed:\n\(crashes.joined(separator: "\n"))\n\(output)", sourceLocation: sourceLocation)
    }

    /// The master's stderr and stdout, for failure messages.
    var output: String { "stderr:\n\(master.stderr.text)\nstdout (last 20 lines):\n\(master.stdout.lines.suffix(20).joined(separator: "\n"))" }
}

// MARK: - Master CLI

/// Connects to the master CLI at `path`, sends `command\n`, reads until the
/// master closes. Throws if the socket cannot be reached or the answer does not
/// end within `timeout`.
func masterCLI(_ path: String, _ command: String, timeout: Double = 30) throws -> String {
    let fd = try Sock.check(socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0), "socket(AF_UNIX)")
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw Sock.Failure(call: "socket path \(path)", code: ENAMETOOLONG) }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (i, b) in bytes.enumerated() { raw[i] = b }
    }
    let r = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    if r != 0 { throw Sock.Failure(call: "connect \(path)", code: errno) }
    Sock.setTimeouts(fd, seconds: timeout)
    let line = Array((command + "\n").utf8)
    var offset = 0
    while offset < line.count {
        let n = line.withUnsafeBufferPointer { send(fd, $0.baseAddress! + offset, line.count - offset, Int32(MSG_NOSIGNAL)) }
        if n < 0 {
            if errno == EINTR { continue }
            throw Sock.Failure(call: "send to the master CLI", code: errno)
        }
        offset += n
    }
    var answer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 8192)
    let deadline = monotonicNow() + timeout
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n > 0 { answer += chunk[0..<n]; continue }
        if n == 0 { break }
        if errno == EINTR && monotonicNow() < deadline { continue }
        throw Sock.Failure(call: "read the answer to '\(command)' (got \(answer.count) bytes: \(String(decoding: answer, as: UTF8.self)))",
                           code: errno)
    }
    return String(decoding: answer, as: UTF8.self)
}

/// A master CLI connection made now and used later (`ask`).
final class UnixClient: @unchecked Sendable {
    private var fd: Int32

    init(path: String, timeout: Double = 10) throws {
        fd = try Sock.check(socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0), "socket(AF_UNIX)")
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let r = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if r != 0 {
            let e = errno
            Glibc.close(fd)
            throw Sock.Failure(call: "connect \(path)", code: e)
        }
        Sock.setTimeouts(fd, seconds: timeout)
    }

    deinit { close() }

    func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    /// Sends `command\n` and reads until the master closes: the text and the error that ended it, if any.
    func ask(_ command: String) -> (text: String, error: String?) {
        let line = Array((command + "\n").utf8)
        let sent = line.withUnsafeBufferPointer { send(fd, $0.baseAddress!, line.count, Int32(MSG_NOSIGNAL)) }
        if sent != line.count { return ("", "send: \(String(cString: strerror(errno)))") }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n > 0 { answer += chunk[0..<n]; continue }
            if n == 0 { return (String(decoding: answer, as: UTF8.self), nil) }
            if errno == EINTR { continue }
            return (String(decoding: answer, as: UTF8.self), "read: \(String(cString: strerror(errno)))")
        }
    }
}

/// A listening AF_UNIX stream socket bound to `path`, close-on-exec.
func unixListener(path: String) throws -> Int32 {
    let fd = try Sock.check(socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0), "socket(AF_UNIX)")
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (i, b) in bytes.enumerated() { raw[i] = b }
    }
    let r = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    if r != 0 || listen(fd, 16) != 0 {
        let e = errno
        close(fd)
        throw Sock.Failure(call: "bind/listen \(path)", code: e)
    }
    return fd
}

/// One process row of `show proc`: `PID ROLE GENERATION RELOADS UPTIME VERSION CONNECTIONS`.
struct ProcRow: Equatable, Sendable {
    var pid: pid_t
    var role: String
    var generation: Int
    var reloads: String
    var uptime: String
    var version: String
    var connections: String
}

/// `show proc`: a `#` header, the master's row, then sections `# workers`,
/// `# old workers` (and any other `# …` section) of worker rows.
struct ProcTable: Sendable, CustomStringConvertible {
    struct Malformed: Error, CustomStringConvertible {
        var reason: String
        var text: String
        var description: String { "malformed 'show proc' (\(reason)):\n\(text)" }
    }

    var raw: String
    var master: ProcRow
    /// Rows by section name (`workers`, `old workers`, …).
    var sections: [String: [ProcRow]]

    var workers: [ProcRow] { sections["workers"] ?? [] }
    var old: [ProcRow] { sections["old workers"] ?? [] }
    /// Any other section that lists workers (a generation still starting).
    var starting: [ProcRow] { sections.filter { $0.key != "workers" && $0.key != "old workers" }.flatMap(\.value) }
    var description: String { raw }

    init(parsing text: String) throws {
        raw = text
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard let header = lines.first, header.hasPrefix("#") else { throw Malformed(reason: "no '#' header line", text: text) }
        var master: ProcRow?
        var sections: [String: [ProcRow]] = [:]
        var section: String?
        for line in lines.dropFirst() {
            if line.hasPrefix("#") {
                let name = line.dropFirst().trimmingCharacters(in: .whitespaces)
                guard sections[name] == nil else { throw Malformed(reason: "section '\(name)' twice", text: text) }
                sections[name] = []
                section = name
                continue
            }
            let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard f.count == 7, let pid = pid_t(f[0]), pid > 0, let generation = Int(f[2]) else {
                throw Malformed(reason: "row '\(line)' is not 'PID ROLE GENERATION RELOADS UPTIME VERSION CONNECTIONS'", text: text)
            }
            let row = ProcRow(pid: pid, role: f[1], generation: generation, reloads: f[3], uptime: f[4], version: f[5],
                              connections: f[6])
            if let section {
                guard row.role == "worker" else { throw Malformed(reason: "a '\(row.role)' row under '# \(section)'", text: text) }
                sections[section]!.append(row)
            } else {
                guard row.role == "master", master == nil else { throw Malformed(reason: "row '\(line)' before '# workers'", text: text) }
                master = row
            }
        }
        guard let master else { throw Malformed(reason: "no master row", text: text) }
        guard sections["workers"] != nil else { throw Malformed(reason: "no '# workers' section", text: text) }
        self.master = master
        self.sections = sections
    }
}

// MARK: - Load

/// What a load generator saw.
struct LoadReport: Sendable, CustomStringConvertible {
    var requests = 0
    var connections = 0
    var failures: [String] = []
    var description: String {
        "\(requests) requests on \(connections) connections, \(failures.count) failures"
            + (failures.isEmpty ? "" : ": " + failures.prefix(8).joined(separator: "; "))
    }
}

/// `connections` keep-alive connections through the proxy to an echo backend,
/// each sending a line and reading it back, round after round, on one thread.
/// A connection is closed and replaced by a new one after a number of requests
/// in `requestsPerConnection` (nil: kept for the whole run). Every connect
/// error, reset, early close, timeout or wrong answer is a failure.
final class KeepAliveLoad: @unchecked Sendable {
    private let report = Mutex(LoadReport())
    private let stopFlag = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let rounds = Atomic<Int>(0)

    init(port: UInt16, connections: Int = 50, requestsPerConnection: ClosedRange<Int>? = 20...60,
         pauseMicroseconds: UInt32 = 20_000) {
        let thread = Thread { [self] in
            run(port: port, count: connections, quota: requestsPerConnection, pause: pauseMicroseconds)
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    deinit { _ = stop() }

    var snapshot: LoadReport { report.withLock { $0 } }
    var completedRounds: Int { rounds.load(ordering: .sequentiallyConsistent) }

    /// Waits until `n` more rounds completed (each round: every connection answered once).
    @discardableResult
    func waitForRounds(_ n: Int, timeout: Double = 10) -> Bool {
        let target = completedRounds + n
        return waitUntil(timeout: timeout) { completedRounds >= target || finished.load(ordering: .sequentiallyConsistent) }
    }

    /// Stops after the round in progress, closes every connection, returns the report.
    func stop() -> LoadReport {
        stopFlag.store(true, ordering: .sequentiallyConsistent)
        _ = waitUntil(timeout: 15) { finished.load(ordering: .sequentiallyConsistent) }
        return snapshot
    }

    private func fail(_ message: String) { report.withLock { $0.failures.append(message) } }

    private func run(port: UInt16, count: Int, quota: ClosedRange<Int>?, pause: UInt32) {
        var clients: [Client?] = Array(repeating: nil, count: count)
        var remaining = Array(repeating: Int.max, count: count)
        var sequence = 0
        defer {
            for c in clients { c?.close() }
            finished.store(true, ordering: .sequentiallyConsistent)
        }
        while !stopFlag.load(ordering: .sequentiallyConsistent) {
            sequence += 1
            var sent = Array(repeating: false, count: count)
            for i in 0..<count {
                if clients[i] == nil {
                    do {
                        clients[i] = try Client(port: port, ioTimeout: 5)
                        remaining[i] = quota.map { Int.random(in: $0) } ?? Int.max
                        report.withLock { $0.connections += 1 }
                    } catch {
                        fail("connect #\(i) round \(sequence): \(error)")
                        continue
                    }
                }
                do {
                    try clients[i]!.send("k\(i) \(sequence)\n")
                    sent[i] = true
                } catch {
                    fail("send on #\(i) round \(sequence): \(error)")
                    clients[i]?.close()
                    clients[i] = nil
                }
            }
            for i in 0..<count where sent[i] {
                do {
                    let line = try clients[i]!.readLine()
                    if line == "k\(i) \(sequence)" {
                        report.withLock { $0.requests += 1 }
                    } else {
                        fail("#\(i) round \(sequence): answered '\(line)'")
                    }
                    remaining[i] -= 1
                    if remaining[i] <= 0 {
                        clients[i]?.close()
                        clients[i] = nil
                    }
                } catch {
                    fail("read on #\(i) round \(sequence): \(error)")
                    clients[i]?.close()
                    clients[i] = nil
                }
            }
            rounds.add(1, ordering: .sequentiallyConsistent)
            if pause > 0 { usleep(pause) }
        }
    }
}

/// New connections, one after the other on one thread: connect, send a line,
/// read it back from the echo backend, close. Every failure is recorded with
/// the monotonic time its connect started, so a test can tell connections
/// begun before an event from those begun after it.
final class ConnectLoop: @unchecked Sendable {
    struct Failure: Sendable, CustomStringConvertible {
        var started: Double
        var refused: Bool
        var message: String
        var description: String { message }
    }

    private let failures = Mutex<[Failure]>([])
    private let successes = Atomic<Int>(0)
    private let stopFlag = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)

    init(port: UInt16, pauseMicroseconds: UInt32 = 2_000) {
        let thread = Thread { [self] in run(port: port, pause: pauseMicroseconds) }
        thread.stackSize = 1 << 20
        thread.start()
    }

    deinit { _ = stop() }

    var succeeded: Int { successes.load(ordering: .sequentiallyConsistent) }
    var failed: [Failure] { failures.withLock { $0 } }

    /// Waits until `n` more connections succeeded.
    @discardableResult
    func waitForSuccesses(_ n: Int, timeout: Double = 10) -> Bool {
        let target = succeeded + n
        return waitUntil(timeout: timeout) { succeeded >= target }
    }

    func stop() -> (succeeded: Int, failed: [Failure]) {
        stopFlag.store(true, ordering: .sequentiallyConsistent)
        _ = waitUntil(timeout: 15) { finished.load(ordering: .sequentiallyConsistent) }
        return (succeeded, failed)
    }

    private func run(port: UInt16, pause: UInt32) {
        defer { finished.store(true, ordering: .sequentiallyConsistent) }
        var n = 0
        while !stopFlag.load(ordering: .sequentiallyConsistent) {
            n += 1
            let started = monotonicNow()
            do {
                let client: Client
                do { client = try Client(port: port, ioTimeout: 5) } catch let error as Sock.Failure {
                    failures.withLock { $0.append(Failure(started: started, refused: error.code == ECONNREFUSED, message: "connect #\(n): \(error)")) }
                    usleep(pause)
                    continue
                }
                defer { client.close() }
                try client.send("n\(n)\n")
                let line = try client.readLine()
                if line == "n\(n)" {
                    successes.add(1, ordering: .sequentiallyConsistent)
                } else {
                    failures.withLock { $0.append(Failure(started: started, refused: false, message: "#\(n) answered '\(line)'")) }
                }
            } catch {
                failures.withLock { $0.append(Failure(started: started, refused: false, message: "#\(n): \(error)")) }
            }
            if pause > 0 { usleep(pause) }
        }
    }
}

/// One echo exchange on an open client: sends `text`, expects it back.
func echoes(_ client: Client, _ text: String) -> Bool {
    guard (try? client.send(text + "\n")) != nil else { return false }
    return (try? client.readLine()) == text
}

/// A fresh connection to `port` that echoes one line.
func connectAndEcho(_ port: UInt16, _ text: String = "ping") -> Bool {
    guard let client = try? Client(port: port, ioTimeout: 5) else { return false }
    defer { client.close() }
    return echoes(client, text)
}

// MARK: - systemd notify

/// An AF_UNIX datagram socket a test passes as `NOTIFY_SOCKET`, with
/// SO_PASSCRED so every datagram carries its sender's pid.
final class NotifySocket: @unchecked Sendable {
    struct Message: Sendable, CustomStringConvertible {
        var pid: pid_t
        var text: String
        var lines: [String] { text.split(separator: "\n").map(String.init) }
        var description: String { "(\(pid)) " + text.replacingOccurrences(of: "\n", with: " | ") }
        func has(_ line: String) -> Bool { lines.contains(line) }
    }

    let path: String
    private let fd: Int32
    private let messages = Mutex<[Message]>([])
    private let stopFlag = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)

    private static let soPassCred: Int32 = 16
    private static let scmCredentials: Int32 = 2

    init(path: String) throws {
        self.path = path
        fd = try Sock.check(socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0), "socket(AF_UNIX, SOCK_DGRAM)")
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let r = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if r != 0 {
            let e = errno
            close(fd)
            throw Sock.Failure(call: "bind \(path)", code: e)
        }
        Sock.setInt(fd, SOL_SOCKET, NotifySocket.soPassCred, 1)
        Sock.setTimeouts(fd, seconds: 0.1)
        let thread = Thread { [self] in run() }
        thread.stackSize = 1 << 20
        thread.start()
    }

    deinit { stop() }

    func stop() {
        if stopFlag.exchange(true, ordering: .sequentiallyConsistent) { return }
        _ = waitUntil(timeout: 5) { finished.load(ordering: .sequentiallyConsistent) }
        close(fd)
        unlink(path)
    }

    var received: [Message] { messages.withLock { $0 } }

    /// Waits until a datagram after the first `after` ones satisfies `predicate`; its index.
    func waitFor(after: Int = 0, timeout: Double = 20, _ predicate: (Message) -> Bool) -> Int? {
        var found: Int?
        _ = waitUntil(timeout: timeout) {
            let all = received
            found = all.indices.first { $0 >= after && predicate(all[$0]) }
            return found != nil
        }
        return found
    }

    private func run() {
        defer { finished.store(true, ordering: .sequentiallyConsistent) }
        var data = [UInt8](repeating: 0, count: 4096)
        // cmsghdr (16 bytes on LP64) + struct ucred (pid, uid, gid), aligned.
        var control = [UInt8](repeating: 0, count: 64)
        while !stopFlag.load(ordering: .sequentiallyConsistent) {
            let n: Int = data.withUnsafeMutableBytes { dataBytes in
                control.withUnsafeMutableBytes { controlBytes in
                    var iov = iovec(iov_base: dataBytes.baseAddress, iov_len: dataBytes.count)
                    return withUnsafeMutablePointer(to: &iov) { iovPointer in
                        var header = msghdr()
                        header.msg_iov = iovPointer
                        header.msg_iovlen = 1
                        header.msg_control = controlBytes.baseAddress
                        header.msg_controllen = controlBytes.count
                        return recvmsg(fd, &header, 0)
                    }
                }
            }
            if n < 0 { continue }
            // The first control message: len (8), level (4), type (4), then the ucred.
            var pid: pid_t = 0
            control.withUnsafeBytes { raw in
                let length = raw.load(fromByteOffset: 0, as: Int.self)
                let level = raw.load(fromByteOffset: 8, as: Int32.self)
                let type = raw.load(fromByteOffset: 12, as: Int32.self)
                if length >= 16 + 12 && level == SOL_SOCKET && type == NotifySocket.scmCredentials {
                    pid = raw.load(fromByteOffset: 16, as: Int32.self)
                }
            }
            let text = String(decoding: data[0..<n], as: UTF8.self)
            messages.withLock { $0.append(Message(pid: pid, text: text)) }
            for i in control.indices { control[i] = 0 }
        }
    }
}

// MARK: - Binary upgrade

/// Copies `source` to `destination` with every `WEIR_VERSION=<from>` marker
/// rewritten to `WEIR_VERSION=<to>` (same length), executable; returns how many
/// markers were rewritten.
func copyBinary(_ source: String, to destination: String, versionFrom from: String? = nil, to: String? = nil) throws -> Int {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: source)))
    var rewritten = 0
    if let from, let to {
        let old = Array("WEIR_VERSION=\(from)".utf8)
        let new = Array("WEIR_VERSION=\(to)".utf8)
        precondition(old.count == new.count, "the version marker must keep its length")
        var i = 0
        let first = old[0]
        while i + old.count <= bytes.count {
            if bytes[i] == first && Array(bytes[i..<(i + old.count)]) == old {
                bytes.replaceSubrange(i..<(i + old.count), with: new)
                rewritten += 1
                i += old.count
            } else {
                i += 1
            }
        }
    }
    try Data(bytes).write(to: URL(fileURLWithPath: destination))
    chmod(destination, 0o755)
    return rewritten
}
