import WeirTLS
import Glibc
import WeirConfig
import WeirLoop
import WeirShared
import WeirSystem

/// What a master hands to its next image across `execve` on reload: the
/// descriptors it keeps open (listeners, worker channels, generation memfds,
/// the CLI socket, a CLI connection waiting for the outcome) and what they are.
public struct ReexecState: Sendable {
    public static let environmentKey = "WEIR_MASTER_STATE_FD"

    var executable: String
    var current: Int
    var reloads: Int
    var failedReloads: Int
    var startedWall: Int64
    var cliListener: Int32
    var reloadReply: Int32
    var listeners: [OpenListener]
    /// Open master CLI connections and what they sent so far.
    var cliClients: [(fd: Int32, pending: [UInt8])]
    var generations: [(number: Int, configFD: Int32, sharedFD: Int32, hardStopDeadline: Int64?)]
    var workers: [WorkerProcess]

    func encoded() -> [UInt8] {
        var lines = ["master\t\(executable)\t\(current)\t\(reloads)\t\(failedReloads)\t\(startedWall)\t\(cliListener)\t\(reloadReply)"]
        for l in listeners {
            lines.append("listener\t\(l.fd)\t\(l.key.slot)\t\(l.shared ? 1 : 0)\t\(l.frontend)\t\(l.key.address)\t\(l.name)\t\(l.bind)")
        }
        for client in cliClients {
            lines.append("cliclient\t\(client.fd)\t" + client.pending.map { String($0, radix: 16) }.joined(separator: ","))
        }
        for g in generations {
            lines.append("generation\t\(g.number)\t\(g.configFD)\t\(g.sharedFD)\t\(g.hardStopDeadline ?? -1)")
        }
        for w in workers {
            lines.append("worker\t\(w.pid)\t\(w.generation)\t\(w.slot)\t\(w.channel)\t\(w.startedWall)\t\(w.ready ? 1 : 0)\t\(w.draining ? 1 : 0)\t\(w.reloadsSurvived)\t\(w.version)")
        }
        return Array((lines.joined(separator: "\n") + "\n").utf8)
    }

    static func decode(_ bytes: [UInt8]) -> ReexecState? {
        var state = ReexecState(executable: "", current: 0, reloads: 0, failedReloads: 0, startedWall: 0,
                                cliListener: -1, reloadReply: -1, listeners: [], cliClients: [], generations: [], workers: [])
        var sawMaster = false
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            switch f.first {
            case "master" where f.count == 8:
                guard let current = Int(f[2]), let reloads = Int(f[3]), let failed = Int(f[4]), let started = Int64(f[5]),
                      let cli = Int32(f[6]), let reply = Int32(f[7]) else { return nil }
                (state.executable, state.current, state.reloads, state.failedReloads) = (f[1], current, reloads, failed)
                (state.startedWall, state.cliListener, state.reloadReply) = (started, cli, reply)
                sawMaster = true
            case "listener" where f.count == 7 || f.count == 8:
                guard let fd = Int32(f[1]), let slot = Int(f[2]), let frontend = Int(f[4]) else { return nil }
                state.listeners.append(OpenListener(key: ListenerKey(address: f[5], slot: slot), fd: fd,
                                                    frontend: frontend, bind: f.count == 8 ? Int(f[7]) ?? 0 : 0,
                                                    name: f[6], shared: f[3] == "1"))
            case "cliclient" where f.count == 3:
                guard let fd = Int32(f[1]) else { return nil }
                let bytes = f[2].split(separator: ",").compactMap { UInt8($0, radix: 16) }
                state.cliClients.append((fd, bytes))
            case "generation" where f.count == 5:
                guard let number = Int(f[1]), let config = Int32(f[2]), let shared = Int32(f[3]), let stop = Int64(f[4]) else { return nil }
                state.generations.append((number, config, shared, stop >= 0 ? stop : nil))
            case "worker" where f.count == 10:
                guard let pid = Int32(f[1]), let generation = Int(f[2]), let slot = Int(f[3]), let channel = Int32(f[4]),
                      let started = Int64(f[5]), let survived = Int(f[8]) else { return nil }
                var worker = WorkerProcess(pid: pid, generation: generation, slot: slot, channel: channel,
                                           startedWall: started, version: f[9])
                worker.ready = f[6] == "1"
                worker.draining = f[7] == "1"
                worker.reloadsSurvived = survived
                state.workers.append(worker)
            default:
                return nil
            }
        }
        return sawMaster ? state : nil
    }

    /// The state the previous image left, if this process is a re-executed
    /// master; the variable is removed so no child inherits it.
    public static func takeFromEnvironment() -> ReexecState? {
        guard let value = getenv(environmentKey), let fd = Int32(String(cString: value)) else { return nil }
        unsetenv(environmentKey)
        defer { Posix.close(fd) }
        guard let bytes = try? MemoryFile.contents(fd) else { return nil }
        return decode(bytes)
    }
}

/// The path this binary was started from, resolved once: after a package
/// upgrade replaces the file, a reload executes the new one from that path.
public func resolvedExecutablePath() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return "/proc/self/exe" }
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

extension Master {
    /// SIGUSR2, SIGHUP or the CLI: validate the files on disk, then re-execute
    /// (same pid) to start a new generation. An invalid configuration changes nothing.
    mutating func reload(reply: Int32, loop: inout EventLoop) {
        if reply >= 0 { reloadReply = reply }
        guard pending == nil, !stopping else {
            answerReload(success: false, messages: [stopping ? "the master is stopping" : "a reload is already in progress"])
            return
        }
        SystemdNotify.reloading()
        if !options.quiet { Notice.notice("Reloading: checking the configuration.") }
        let checked = checkConfiguration()
        guard checked.configuration != nil else {
            failReload(checked.firstError ?? "invalid configuration", messages: checked.messages)
            return
        }
        // The binary on disk may have been replaced: make sure it runs and
        // accepts the configuration before this process becomes it.
        if let problem = checkExecutable() {
            failReload(problem, messages: checked.messages)
            return
        }
        reexec(loop: &loop)
    }

    /// Runs `executable -c -q -f …` (bounded); nil when it validated the files.
    func checkExecutable() -> String? {
        var arguments = [executable, "-c", "-q"]
        for path in options.configPaths { arguments += ["-f", path] }
        let pid: Int32
        do { pid = try Processes.spawn(path: executable, arguments: arguments, environment: workerEnvironment) } catch {
            return "cannot execute \(executable): \(error)"
        }
        switch Processes.wait(pid, timeout: 10_000) {
        case .exited(0): return nil
        case let outcome: return "\(executable) -c did not accept the configuration (\(outcome))"
        }
    }

    /// Reads and parses the configuration files again.
    func checkConfiguration() -> (configuration: Configuration?, files: [ConfigFile], messages: [String], firstError: String?) {
        let files: [ConfigFile]
        do { files = try ConfigLoader.load(paths: options.configPaths) } catch {
            return (nil, [], ["\(error)"], "\(error)")
        }
        var result = ConfigParser.parse(files, environment: Processes.environmentVariables())
        if let parsed = result.configuration, !result.hasErrors { result.diagnostics += TLSSetup.check(parsed) }
        let messages = result.diagnostics.map { $0.rendered() }
        var firstError = result.diagnostics.first { $0.severity == .error || $0.severity == .alert }
            .map { d in d.location.map { "\($0): \(d.message)" } ?? d.message }
        if firstError == nil, result.configuration?.global.zeroWarning == true,
           result.diagnostics.contains(where: { $0.severity == .warning }) {
            firstError = "some warnings were found and 'zero-warning' makes them fatal"
            return (nil, files, messages, firstError)
        }
        return (result.hasErrors ? nil : result.configuration, files, messages, firstError)
    }

    mutating func failReload(_ reason: String, messages: [String]) {
        failedReloads += 1
        Notice.alert("Reload failed: \(reason)")
        for message in messages { Posix.writeAll(2, message + "\n") }
        SystemdNotify.send(["READY=1", "STATUS=reload failed: \(reason)"])
        answerReload(success: false, messages: ["Reload failed: \(reason)"] + messages)
    }

    /// Answers the CLI connection that asked for the reload, if any.
    mutating func answerReload(success: Bool, messages: [String]) {
        guard reloadReply >= 0 else { return }
        let text = "Success=\(success ? 1 : 0)\n--\n" + messages.map { $0 + "\n" }.joined()
        _ = try? Posix.setNonBlocking(reloadReply)
        Posix.writeAll(reloadReply, text)
        Posix.close(reloadReply)
        reloadReply = -1
    }

    /// Executes the binary again in this process, handing over every descriptor
    /// that must outlive the old image. Returns only if execve failed.
    private mutating func reexec(loop: inout EventLoop) {
        var generationList: [(number: Int, configFD: Int32, sharedFD: Int32, hardStopDeadline: Int64?)] = []
        for generation in generations.values.sorted(by: { $0.number < $1.number }) {
            generationList.append((generation.number, generation.configFD, generation.sharedFD, generation.hardStopDeadline))
        }
        let state = ReexecState(executable: executable, current: current, reloads: reloads, failedReloads: failedReloads,
                                startedWall: startedWall, cliListener: cliListener, reloadReply: reloadReply,
                                listeners: listeners, cliClients: cliClients.map { ($0.key, $0.value) },
                                generations: generationList, workers: workers)
        let stateFD: Int32
        do { stateFD = try MemoryFile.create(name: "weir-master-state", bytes: state.encoded()) } catch {
            failReload("cannot save the master's state: \(error)", messages: [])
            return
        }
        var kept = [stateFD, cliListener, reloadReply] + listeners.map(\.fd) + workers.map(\.channel) + Array(cliClients.keys)
        for generation in generationList { kept += [generation.configFD, generation.sharedFD] }
        kept = kept.filter { $0 >= 0 }
        for fd in kept { try? Posix.setCloseOnExec(fd, false) }
        // The next image binds the stats sockets again.
        closeStats(loop: &loop)
        // The next image would not know the external checks' programs.
        checker?.endCommands(loop: &loop)
        var environment = Processes.environment().filter { !$0.hasPrefix(ReexecState.environmentKey + "=") }
        environment.append("\(ReexecState.environmentKey)=\(stateFD)")
        let error = Processes.exec(path: executable, arguments: options.arguments, environment: environment)
        for fd in kept { try? Posix.setCloseOnExec(fd, true) }
        Posix.close(stateFD)
        try? openStats(loop: &loop)
        failReload("cannot execute \(executable): \(error)", messages: [])
    }

    /// The new image takes back what the old one handed over.
    mutating func restore(_ state: ReexecState, loop: inout EventLoop) throws(StartupError) {
        current = state.current
        reloads = state.reloads
        failedReloads = state.failedReloads
        startedWall = state.startedWall
        cliListener = state.cliListener
        reloadReply = state.reloadReply
        listeners = state.listeners
        workers = state.workers
        for listener in listeners { try? Posix.setCloseOnExec(listener.fd, true) }
        for g in state.generations {
            try? Posix.setCloseOnExec(g.configFD, true)
            try? Posix.setCloseOnExec(g.sharedFD, true)
            // A segment laid out by an older binary (before an upgrade) is
            // not readable here: its workers go on, uncounted.
            let segment = SharedSegment.attach(g.sharedFD)
            if segment == nil {
                Notice.warning("generation \(g.number): its shared memory has another layout (started by another version); its counters are not carried over")
            }
            generations[g.number] = Generation(number: g.number, configFD: g.configFD, sharedFD: g.sharedFD,
                                               segment: segment, hardStopDeadline: g.hardStopDeadline)
            if let deadline = g.hardStopDeadline {
                loop.schedule(Token(kind: MasterToken.hardStop.rawValue, slot: UInt32(g.number)), at: deadline)
            }
        }
        for worker in workers where worker.channel >= 0 {
            try? Posix.setCloseOnExec(worker.channel, true)
            do {
                try loop.register(worker.channel, events: Epoll.readable,
                                  token: Token(kind: MasterToken.channel.rawValue, slot: UInt32(bitPattern: worker.pid)))
            } catch {
                throw StartupError("cannot watch worker \(worker.pid): \(error)")
            }
        }
        if cliListener >= 0 {
            try? Posix.setCloseOnExec(cliListener, true)
            do {
                try loop.register(cliListener, events: Epoll.readable, token: Token(kind: MasterToken.cliListener.rawValue, slot: 0))
            } catch {
                throw StartupError("cannot watch the master CLI: \(error)")
            }
        }
        if reloadReply >= 0 { try? Posix.setCloseOnExec(reloadReply, true) }
        for client in state.cliClients {
            try? Posix.setCloseOnExec(client.fd, true)
            cliClients[client.fd] = client.pending
            try? loop.register(client.fd, events: Epoll.readable,
                               token: Token(kind: MasterToken.cliClient.rawValue, slot: UInt32(bitPattern: client.fd)))
        }
        // The running generation's configuration, for respawning its workers.
        if let generation = generations[current], let bytes = try? MemoryFile.contents(generation.configFD),
           let files = ConfigBundle.decode(bytes) {
            let result = ConfigParser.parse(files, environment: Processes.environmentVariables())
            if let configuration = result.configuration {
                self.configuration = configuration
                self.files = files
            }
        }
    }

    /// Right after the re-exec: parse the files again (this binary may be a
    /// new version) and start the next generation on the kept sockets.
    mutating func reloadAfterExec(loop: inout EventLoop) {
        let checked = checkConfiguration()
        guard let configuration = checked.configuration else {
            failReload(checked.firstError ?? "invalid configuration", messages: checked.messages)
            return
        }
        var inherited: [ListenerKey: Int32] = [:]
        for listener in listeners { inherited[listener.key] = listener.fd }
        let opened: [OpenListener]
        do {
            opened = try ListenerBinding.bindAll(configuration, slots: slotsFor(configuration), reusing: &inherited,
                                                 probe: options.probeForStrangers)
        } catch {
            failReload(error.description, messages: checked.messages)
            return
        }
        let previous = Set(listeners.map(\.fd))
        if !options.quiet {
            for listener in opened where listener.key.slot == 0 && !previous.contains(listener.fd) {
                Notice.notice("Proxy \(configuration.frontends[listener.frontend].name) listening on \(listener.name)")
            }
        }
        do {
            try startGeneration(current + 1, configuration: configuration, files: checked.files, listeners: opened,
                                messages: checked.messages, loop: &loop)
        } catch {
            failReload(error.description, messages: checked.messages)
        }
    }
}
