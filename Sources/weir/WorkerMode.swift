import Glibc
import WeirConfig
import WeirProxy
import WeirShared
import WeirSystem

/// A worker process started by the master (`weir --worker`, channel on fd 3):
/// it receives its listening sockets, the validated configuration and the
/// shared memory, parses the configuration bytes it was given (never the
/// files), and serves until the master says DRAIN or STOP, or goes away.
enum WorkerMode {
    static let channel: Int32 = 3

    static func run() -> Int32 {
        // The kernel tells us if the master dies; end-of-file on the channel too.
        Processes.setParentDeathSignal(SIGTERM)
        let received: (bytes: [UInt8], fds: [Int32])?
        do { received = try Channel.receive(channel) } catch {
            Notice.alert("worker: cannot read from the master: \(error)")
            return 1
        }
        guard let (bytes, fds) = received, case .hello(let hello)? = ControlMessage.decode(bytes),
              fds.count == ControlMessage.helloFixedDescriptors + hello.listeners.count else {
            Notice.alert("worker: the master's first message is not a valid hello")
            return 1
        }
        guard getppid() == hello.masterPID else { return 1 }
        let configFD = fds[0], sharedFD = fds[1]
        defer { Posix.close(configFD) }
        guard let bundle = try? MemoryFile.contents(configFD), let files = ConfigBundle.decode(bundle) else {
            Notice.alert("worker: the configuration handed over is unreadable")
            return 1
        }
        let result = ConfigParser.parse(files, environment: Processes.environmentVariables())
        guard let configuration = result.configuration, !result.hasErrors else {
            for diagnostic in result.diagnostics { Posix.writeAll(2, diagnostic.rendered() + "\n") }
            return 1
        }
        guard let segment = SharedSegment.attach(sharedFD), hello.slot < segment.slots else {
            Notice.alert("worker: the shared memory handed over is unreadable")
            return 1
        }
        Posix.close(sharedFD)
        segment.workerCounters(hello.slot).pointee.pid = Int64(getpid())
        var listeners: [BoundListener] = []
        for (index, info) in hello.listeners.enumerated() {
            guard info.frontend < configuration.frontends.count else { return 1 }
            listeners.append(BoundListener(fd: fds[ControlMessage.helloFixedDescriptors + index],
                                           frontend: info.frontend, bind: info.bind, name: info.name))
        }
        do {
            let global = configuration.global
            let privileges = try Privileges.resolve(user: global.user, group: global.group, uid: global.uid, gid: global.gid,
                                                     chroot: global.chroot)
            // Server names are resolved here, before a chroot hides resolv.conf.
            let worker = try Worker(configuration: configuration, listeners: listeners,
                                    options: WorkerOptions(quiet: true, control: channel, segment: segment, slot: hello.slot))
            try privileges.apply()
            if global.setDumpable { Posix.enableCoreDumps() }
            return worker.run()
        } catch {
            Notice.alert("worker: \(error)")
            return 1
        }
    }
}
