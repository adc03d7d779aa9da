import Glibc
import WeirLoop
import WeirShared
import WeirSystem

/// The master CLI (`-S`): one command per connection, answered, then closed.
extension Master {
    static let help = """
        The following commands are valid at this level:
          help           : this message
          quit           : close this connection
          show proc      : every process: role, pid, generation, reloads, uptime, version, open connections
          reload         : reload the configuration and wait for the outcome (Success=1 or Success=0)

        """

    mutating func openCLI(loop: inout EventLoop) throws(StartupError) {
        guard let address = options.cliAddress else { return }
        let fd: Int32
        do {
            if address.hasPrefix("fd@"), let number = Int32(address.dropFirst(3)) {
                fd = try Listening.adopt(number).release()
            } else {
                guard let unix = SocketAddress(unixPath: address) else {
                    throw StartupError("master CLI: socket path too long: \(address)")
                }
                fd = try Listening.open(unix, options: .init(backlog: 16), reusePort: false).release()
                chmod(address, 0o600)
            }
        } catch let error as StartupError {
            throw error
        } catch {
            throw StartupError("master CLI: \(error)")
        }
        cliListener = fd
        do {
            try loop.register(fd, events: Epoll.readable, token: Token(kind: MasterToken.cliListener.rawValue, slot: 0))
        } catch {
            throw StartupError("master CLI: \(error)")
        }
    }

    mutating func acceptCLI(loop: inout EventLoop) {
        var peer = SocketAddress()
        while let client = try? Posix.accept(cliListener, peer: &peer) {
            cliClients[client] = []
            try? loop.register(client, events: Epoll.readable,
                               token: Token(kind: MasterToken.cliClient.rawValue, slot: UInt32(bitPattern: client)))
        }
    }

    mutating func cliEvent(fd: Int32, loop: inout EventLoop) {
        guard var pending = cliClients[fd] else { return }
        var chunk = [UInt8](repeating: 0, count: 1024)
        var ended = false
        reading: while true {
            switch try? Posix.read(fd, into: &chunk, count: chunk.count) {
            case .processed(0), nil: ended = true; break reading
            case .processed(let n): pending += chunk[0..<n]
            case .wouldBlock: break reading
            }
        }
        guard let newline = pending.firstIndex(of: UInt8(ascii: "\n")) ?? (ended ? pending.endIndex : nil) else {
            if pending.count > 4096 { closeCLI(fd, loop: &loop) } else { cliClients[fd] = pending }
            return
        }
        let command = String(decoding: pending[..<newline], as: UTF8.self).trimmingBlanks()
        switch command {
        case "reload":
            loop.deregister(fd)
            cliClients[fd] = nil
            if reloadReply >= 0 || self.pending != nil {
                Posix.writeAll(fd, "Success=0\n--\na reload is already in progress\n")
                Posix.close(fd)
                return
            }
            reload(reply: fd, loop: &loop)
        case "show proc":
            answerCLI(fd, showProc(), loop: &loop)
        case "help", "":
            answerCLI(fd, Master.help, loop: &loop)
        case "quit":
            closeCLI(fd, loop: &loop)
        default:
            answerCLI(fd, "Unknown command: '\(command)'\n" + Master.help, loop: &loop)
        }
    }

    private mutating func answerCLI(_ fd: Int32, _ text: String, loop: inout EventLoop) {
        Posix.writeAll(fd, text)
        closeCLI(fd, loop: &loop)
    }

    private mutating func closeCLI(_ fd: Int32, loop: inout EventLoop) {
        loop.deregister(fd)
        cliClients[fd] = nil
        Posix.close(fd)
    }

    /// `show proc`: the master, the current workers, then those still draining.
    func showProc() -> String {
        let now = Clock.wallMilliseconds()
        func row(_ fields: [String]) -> String {
            fields.map { $0 + String(repeating: " ", count: max(1, 16 - $0.count)) }.joined().trimmingBlanks() + "\n"
        }
        func connections(_ worker: WorkerProcess) -> String {
            guard let segment = generations[worker.generation]?.segment, worker.slot < segment.slots else { return "-" }
            return String(segment.workerCounters(worker.slot).pointee.sessions)
        }
        var text = row(["#<PID>", "<type>", "<generation>", "<reloads>", "<uptime>", "<version>", "<connections>"])
        text += row([String(getpid()), "master", String(current), String(reloads), uptime(now - startedWall), options.version, "-"])
        text += "# workers\n"
        for worker in workers.sorted(by: { $0.slot < $1.slot }) where worker.generation == current && !worker.draining {
            text += row([String(worker.pid), "worker", String(worker.generation), String(worker.reloadsSurvived),
                         uptime(now - worker.startedWall), worker.version, connections(worker)])
        }
        if let pending {
            text += "# starting workers\n"
            for worker in workers where worker.generation == pending.number {
                text += row([String(worker.pid), "worker", String(worker.generation), "0",
                             uptime(now - worker.startedWall), worker.version, connections(worker)])
            }
        }
        text += "# old workers\n"
        let old = workers.filter { ($0.generation != current || $0.draining) && $0.generation != pending?.number }
        for worker in old.sorted(by: { ($0.generation, $0.slot) < ($1.generation, $1.slot) }) {
            text += row([String(worker.pid), "worker", String(worker.generation), String(worker.reloadsSurvived),
                         uptime(now - worker.startedWall), worker.version, connections(worker)])
        }
        return text
    }

    private func uptime(_ milliseconds: Int64) -> String {
        let seconds = max(0, milliseconds / 1000)
        let d = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60, s = seconds % 60
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(d)d\(two(h))h\(two(m))m\(two(s))s"
    }
}

extension String {
    func trimmingBlanks() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" || first == "\r" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" || last == "\r" { scalars.removeLast() }
        return String(scalars)
    }
}

/// `weir cli SOCKET COMMAND…`: sends one command to the master CLI and prints
/// the answer. Exits 1 when a `reload` answers `Success=0` (the systemd
/// unit's ExecReload relies on it) or the command is unknown, 2 when the
/// master cannot be reached.
public enum MasterCLIClient {
    public static func run(socket path: String, command: String) -> Int32 {
        guard let address = SocketAddress(unixPath: path) else {
            Posix.writeAll(2, "weir cli: socket path too long: \(path)\n")
            return 2
        }
        let fd = socket(AF_UNIX, Posix.streamType, 0)
        guard fd >= 0 else {
            Posix.writeAll(2, "weir cli: socket: \(Errno.current)\n")
            return 2
        }
        defer { Posix.close(fd) }
        try? Posix.setCloseOnExec(fd, true)
        var storage = address.storage
        let connected = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, address.length) }
        }
        guard connected == 0 else {
            Posix.writeAll(2, "weir cli: cannot connect to the master CLI at \(path): \(Errno.current)\n")
            return 2
        }
        Posix.writeAll(fd, command + "\n")
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n > 0 { answer += chunk[0..<n] } else if n < 0 && Errno.current == .interrupted { continue } else { break }
        }
        answer.withUnsafeBytes { Posix.writeAll(1, $0) }
        let text = String(decoding: answer, as: UTF8.self)
        if command.trimmingBlanks() == "reload" { return text.hasPrefix("Success=1") ? 0 : 1 }
        return text.hasPrefix("Unknown command") ? 1 : 0
    }
}
