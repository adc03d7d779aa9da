import CShims
import Glibc

/// Processes: spawning workers, reaping them, signals to them.
public enum Processes {
    /// posix_spawn of `path` (`argv[0]` included in `arguments`): the child
    /// inherits stdin/stdout/stderr and `channel` (unless -1) as its fd 3, with
    /// an empty signal mask and default dispositions. No Swift code runs
    /// between fork and exec.
    public static func spawn(path: String, arguments: [String], environment: [String], channel: Int32 = -1) throws(Errno) -> pid_t {
        try spawn(arguments, environment) { pid, argv, envp in CShims_spawn(pid, path, argv, envp, channel, 3) }
    }

    /// posix_spawn of a program that must not see this process's
    /// descriptors: stdio on /dev/null, nothing else open, in a process
    /// group of its own (so `killGroup` reaches what it started).
    public static func spawnIsolated(path: String, arguments: [String], environment: [String]) throws(Errno) -> pid_t {
        try spawn(arguments, environment) { pid, argv, envp in CShims_spawn_isolated(pid, path, argv, envp) }
    }

    /// Calls a posix_spawn shim with `arguments` and `environment` as C
    /// string arrays; the pid it started, or its error.
    private static func spawn(
        _ arguments: [String], _ environment: [String],
        _ shim: (UnsafeMutablePointer<pid_t>, UnsafePointer<UnsafeMutablePointer<CChar>?>,
                 UnsafePointer<UnsafeMutablePointer<CChar>?>) -> Int32
    ) throws(Errno) -> pid_t {
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = shim(&pid, argv, envp)
        if rc != 0 { throw Errno(rc) }
        return pid
    }

    /// pidfd_open(2): readable (EPOLLIN) once `pid` has ended; close-on-exec.
    public static func pidfd(_ pid: pid_t) throws(Errno) -> Int32 {
        let fd = CShims_pidfd_open(pid)
        if fd < 0 { throw Errno.current }
        return fd
    }

    /// kill(-pgid, signal): every process of the group `pgid` leads.
    public static func killGroup(_ pgid: pid_t, _ signal: Int32) {
        _ = kill(-pgid, signal)
    }

    public enum Exit: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        public var description: String {
            switch self {
            case .exited(let status): return "exit status \(status)"
            case .signaled(let signal): return "killed by signal \(signal)"
            }
        }
    }

    /// waitpid(pid, WNOHANG): how `pid` ended, nil while it runs. Only
    /// this child is reaped: other children belong to whoever waits for them.
    public static func reap(_ pid: pid_t) -> Exit? {
        var status: Int32 = 0
        var r: pid_t
        repeat { r = waitpid(pid, &status, WNOHANG) } while r < 0 && Errno.current == .interrupted
        guard r == pid else { return nil }
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }

    /// waitpid(pid, 0): waits for `pid` (one just sent SIGKILL) to end.
    public static func reapNow(_ pid: pid_t) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && Errno.current == .interrupted {}
    }

    /// Waits up to `timeout` ms for `pid` to end; kills it if it does not.
    public static func wait(_ pid: pid_t, timeout: Int64) -> Exit {
        let deadline = Clock.monotonicMilliseconds() + timeout
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && Errno.current != .interrupted { return .exited(127) }
            if Clock.monotonicMilliseconds() >= deadline {
                _ = kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                return .signaled(SIGKILL)
            }
            usleep(5000)
        }
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }

    /// kill(2); a process already gone is not an error here.
    public static func signal(_ pid: pid_t, _ signal: Int32) {
        _ = kill(pid, signal)
    }

    /// prctl(PR_SET_PDEATHSIG): the kernel sends `signal` when the parent dies.
    public static func setParentDeathSignal(_ signal: Int32) {
        _ = CShims_set_parent_death_signal(signal)
    }

    /// prctl(PR_SET_TIMERSLACK): how late the kernel may fire this thread's
    /// timers to group wake-ups (50 µs by default).
    public static func setTimerSlack(nanoseconds: Int) {
        _ = CShims_set_timer_slack(UInt(nanoseconds))
    }

    public static let childSignal = CShims_SIGCHLD

    /// The current environment as `NAME=value` strings.
    public static func environment() -> [String] {
        var result: [String] = []
        var cursor = environ
        while let entry = cursor.pointee {
            result.append(String(cString: entry))
            cursor += 1
        }
        return result
    }

    /// The current environment as a dictionary, for `"${VAR}"` expansion.
    public static func environmentVariables() -> [String: String] {
        var result: [String: String] = [:]
        for entry in environment() {
            if let equals = entry.firstIndex(of: "=") {
                result[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
            }
        }
        return result
    }

    /// execve(2): replaces this process image; returns only on failure.
    public static func exec(path: String, arguments: [String], environment: [String]) -> Errno {
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        execve(path, &argv, &envp)
        return Errno.current
    }
}

/// A SOCK_SEQPACKET socket pair between the master and one worker: messages
/// keep their boundaries and may carry file descriptors (SCM_RIGHTS).
public enum Channel {
    /// socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC)
    public static func pair() throws(Errno) -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        if CShims_seqpacket_pair(&fds) != 0 { throw Errno.current }
        return (fds[0], fds[1])
    }

    /// Sends one message with `fds` attached (sendmsg, SCM_RIGHTS).
    public static func send(_ fd: Int32, _ bytes: [UInt8], fds: [Int32] = []) throws(Errno) {
        let n = bytes.withUnsafeBytes { raw in
            fds.withUnsafeBufferPointer { f in
                CShims_send_fds(fd, raw.baseAddress, raw.count, f.baseAddress, Int32(f.count))
            }
        }
        if n < 0 { throw Errno.current }
    }

    /// Receives one message (up to `capacity` bytes) and the descriptors it
    /// carries. `.processed(0)` with no bytes means the peer closed.
    public static func receive(_ fd: Int32, capacity: Int = 65536) throws(Errno) -> (bytes: [UInt8], fds: [Int32])? {
        var buffer = [UInt8](repeating: 0, count: capacity)
        var fds = [Int32](repeating: -1, count: 253)
        var count: Int32 = 0
        let n = buffer.withUnsafeMutableBytes { raw in
            fds.withUnsafeMutableBufferPointer { f in
                CShims_recv_fds(fd, raw.baseAddress, raw.count, f.baseAddress, 253, &count)
            }
        }
        if n < 0 {
            let error = Errno.current
            if error == .wouldBlock { return nil }
            throw error
        }
        return (Array(buffer[0..<n]), Array(fds[0..<Int(count)]))
    }
}

/// An anonymous memory file (memfd_create), for the validated configuration
/// bytes and the shared-memory segment handed to workers.
public enum MemoryFile {
    public static func create(name: String, bytes: [UInt8]) throws(Errno) -> Int32 {
        let fd = CShims_memfd_create(name)
        if fd < 0 { throw Errno.current }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + offset, bytes.count - offset, off_t(offset)) }
            if n <= 0 {
                let error = Errno.current
                Posix.close(fd)
                throw error
            }
            offset += n
        }
        return fd
    }

    /// A zero-filled memfd of `size` bytes.
    public static func create(name: String, size: Int) throws(Errno) -> Int32 {
        let fd = CShims_memfd_create(name)
        if fd < 0 { throw Errno.current }
        if ftruncate(fd, off_t(size)) != 0 {
            let error = Errno.current
            Posix.close(fd)
            throw error
        }
        return fd
    }

    /// The whole content of a file descriptor (pread from 0).
    public static func contents(_ fd: Int32) throws(Errno) -> [UInt8] {
        var info = stat()
        if fstat(fd, &info) != 0 { throw Errno.current }
        let size = Int(info.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var offset = 0
        while offset < size {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + offset, size - offset, off_t(offset)) }
            if n <= 0 { throw n == 0 ? Errno(EIO) : Errno.current }
            offset += n
        }
        return bytes
    }

    /// mmap(MAP_SHARED) of the whole file, read-write.
    public static func map(_ fd: Int32) throws(Errno) -> UnsafeMutableRawBufferPointer {
        var info = stat()
        if fstat(fd, &info) != 0 { throw Errno.current }
        let size = Int(info.st_size)
        guard let base = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            throw Errno.current
        }
        return UnsafeMutableRawBufferPointer(start: base, count: size)
    }
}
