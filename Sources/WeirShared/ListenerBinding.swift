import Glibc
import WeirConfig
import WeirSystem

/// A listening socket the master owns for one worker slot, named by what the
/// configuration says, so a reload can keep it when the same `bind` remains.
public struct ListenerKey: Hashable, Sendable, CustomStringConvertible {
    /// The configured address (`127.0.0.1:0` stays `127.0.0.1:0` whatever port it got).
    public var address: String
    /// The worker slot; 0 for UNIX and inherited sockets, which all workers share.
    public var slot: Int

    public init(address: String, slot: Int) {
        self.address = address
        self.slot = slot
    }

    public var description: String { "\(address)#\(slot)" }
}

public struct OpenListener: Sendable {
    public var key: ListenerKey
    public var fd: Int32
    /// Index into `Configuration.frontends`.
    public var frontend: Int
    /// Index into the frontend's `binds`.
    public var bind: Int
    /// The bound address, port 0 resolved.
    public var name: String
    /// One socket for every worker slot (UNIX and `fd@` sockets) rather than one per slot.
    public var shared: Bool

    public init(key: ListenerKey, fd: Int32, frontend: Int, bind: Int = 0, name: String, shared: Bool) {
        self.key = key
        self.fd = fd
        self.frontend = frontend
        self.bind = bind
        self.name = name
        self.shared = shared
    }
}

/// Opens every listener a configuration asks for.
public enum ListenerBinding {
    /// One foreground process (`-d`): one socket per bind address.
    public static func bindAll(_ configuration: Configuration) throws(StartupError) -> [BoundListener] {
        var none: [ListenerKey: Int32] = [:]
        return try bindAll(configuration, slots: 1, reusing: &none).map {
            BoundListener(fd: $0.fd, frontend: $0.frontend, bind: $0.bind, name: $0.name)
        }
    }

    /// The master: for every IP `bind`, one SO_REUSEPORT socket per worker
    /// slot, so the kernel spreads connections over the workers; UNIX and
    /// `fd@` sockets, and with `noreuseport` every socket, are one socket
    /// shared by all slots. Sockets found in
    /// `inherited` (kept across a reload) are reused and removed from it; the
    /// caller closes what remains there. On failure, closes what it opened
    /// (not what it reused) and throws one error naming the address.
    /// `probe: false` (for `-sf`/`-st`) shares ports with the process being replaced.
    public static func bindAll(_ configuration: Configuration, slots: Int, reusing inherited: inout [ListenerKey: Int32],
                               probe: Bool = true) throws(StartupError) -> [OpenListener] {
        var opened: [OpenListener] = []
        var reused: [ListenerKey: Int32] = [:]
        var ipFrontends: [String: (frontend: Int, bind: Int)] = [:]
        func fail(_ error: StartupError) -> StartupError {
            for listener in opened where reused[listener.key] == nil { Posix.close(listener.fd) }
            // What was reused goes back, so the caller still owns it.
            for (key, fd) in reused { inherited[key] = fd }
            return error
        }
        // A `disabled` frontend is checked but not started: it opens no socket.
        for (index, frontend) in configuration.frontends.enumerated() where !frontend.disabled {
            for (bindIndex, bind) in frontend.binds.enumerated() {
                // Port 0 names no socket of its own: several `:0` binds would
                // share one key, so theirs also says which bind line they are.
                var configured = bind.address.description
                if case .ip(_, 0) = bind.address { configured = "\(frontend.name)#\(bindIndex)=\(configured)" }
                let shared: Bool
                switch bind.address {
                case .ip: shared = configuration.global.noReusePort
                case .unix, .inheritedFD: shared = true
                }
                // The port of slot 0, for further slots of a `:0` bind.
                var boundPort: UInt16 = 0
                for slot in 0..<(shared ? 1 : slots) {
                    let key = ListenerKey(address: configured, slot: slot)
                    let fd: Int32
                    if let kept = inherited.removeValue(forKey: key) {
                        fd = kept
                        reused[key] = kept
                    } else {
                        do {
                            fd = try open(bind, backlog: bind.options.backlog ?? frontend.backlog, slot: slot,
                                          port: boundPort, probe: probe, reusePort: !configuration.global.noReusePort)
                        } catch {
                            throw fail(error)
                        }
                    }
                    let local = try? Posix.localAddress(fd)
                    if slot == 0 { boundPort = local?.port ?? 0 }
                    opened.append(OpenListener(key: key, fd: fd, frontend: index, bind: bindIndex,
                                               name: local?.description ?? configured, shared: shared))
                }
                if !shared { ipFrontends[configured] = (index, bindIndex) }
            }
        }
        // Fewer slots than before: the sockets of the slots that went away
        // stay, and workers share them (slot modulo the new count), so no
        // connection already queued on them is reset.
        for (key, fd) in inherited where key.slot >= slots {
            guard let owner = ipFrontends[key.address] else { continue }
            inherited[key] = nil
            reused[key] = fd
            let name = (try? Posix.localAddress(fd))?.description ?? key.address
            opened.append(OpenListener(key: key, fd: fd, frontend: owner.frontend, bind: owner.bind, name: name, shared: false))
        }
        return opened
    }

    /// `backlog`: the bind's, else its frontend's; nil: the default.
    private static func open(_ bind: Bind, backlog: Int?, slot: Int, port: UInt16, probe: Bool,
                             reusePort: Bool) throws(StartupError) -> Int32 {
        var options = Listening.Options()
        if let backlog { options.backlog = Int32(backlog) }
        options.v6only = bind.options.v6only
        options.deferAccept = bind.options.deferAccept
        options.fastOpen = bind.options.fastOpen
        options.maxSegment = bind.options.maxSegment.map(Int32.init)
        options.interface = bind.options.interface
        do {
            switch bind.address {
            case .ip(let ip, let configuredPort):
                // Slots after the first join the port slot 0 holds (the one the
                // kernel chose for `:0`); the stranger probe ran for slot 0.
                let address = SocketAddress(ip: ip.bytes, port: slot == 0 ? configuredPort : port)
                return try Listening.open(address, options: options, reusePort: reusePort, probe: probe && slot == 0).release()
            case .unix(let path):
                guard let address = SocketAddress(unixPath: path) else {
                    throw StartupError("\(bind.location): UNIX socket path too long: \(path)")
                }
                let fd = try Listening.open(address, options: .init(backlog: options.backlog), reusePort: false).release()
                do { try bind.options.unixAccess.apply(to: path) } catch {
                    Posix.close(fd)
                    throw StartupError("\(bind.location): UNIX socket \(path): \(error)")
                }
                return fd
            case .inheritedFD(let fd):
                return try Listening.adopt(fd).release()
            }
        } catch let error as Listening.Failure {
            throw StartupError("Starting proxy: \(error)")
        } catch let error as StartupError {
            throw error
        } catch {
            throw StartupError("\(error)")
        }
    }
}

extension UnixSocketAccess {
    /// Sets the permissions and owner of the socket file at `path`; names
    /// are looked up now (before a chroot hides the user database).
    func apply(to path: String) throws(StartupError) {
        if path.hasPrefix("\0") { return }
        var uid = self.uid.map { uid_t($0) } ?? uid_t.max
        var gid = self.gid.map { gid_t($0) } ?? gid_t.max
        if let user {
            guard let entry = getpwnam(user) else { throw StartupError("unknown user '\(user)'") }
            uid = entry.pointee.pw_uid
        }
        if let group {
            guard let entry = getgrnam(group) else { throw StartupError("unknown group '\(group)'") }
            gid = entry.pointee.gr_gid
        }
        // -1 (uid_t.max) leaves that id unchanged.
        if uid != uid_t.max || gid != gid_t.max, chown(path, uid, gid) != 0 {
            throw StartupError("cannot change its owner: \(Errno.current)")
        }
        if let mode, chmod(path, mode_t(mode)) != 0 {
            throw StartupError("cannot change its permissions: \(Errno.current)")
        }
    }
}
