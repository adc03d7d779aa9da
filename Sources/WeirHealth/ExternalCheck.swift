import Glibc
import WeirConfig
import WeirShared
import WeirSystem
import WeirLoop

/// `option external-check`: per check, the backend's program runs with
/// `<proxy_address> <proxy_port> <server_address> <server_port>` and
/// HAProxy's HAPROXY_* environment; exit status 0 passes (PROCOK), any other
/// end fails (PROCERR), and a program still running at the deadline is
/// killed with its process group (PROCTOUT). Its end is seen through a pidfd
/// in the loop, and only its own pid is waited for.
struct ExternalCommand {
    let program: String
    /// `<proxy_address> <proxy_port>`: the proxy's first `bind`, or
    /// NOT_USED for a backend without one, as HAProxy passes them.
    let proxyAddress: String
    let proxyPort: String
    /// Every variable but the server's address, port and connection count.
    let environment: [String]

    init(_ check: ExternalCheck, configuration: Configuration, layout: SegmentLayout, backend b: Int, server s: Int) {
        let backend = configuration.backends[b]
        let server = backend.servers[s]
        program = check.command
        var proxyAddress = "NOT_USED"
        var proxyPort = "NOT_USED"
        if let frontend = configuration.frontends.first(where: { $0.ownBackend == b }),
           case .ip(let ip, let port)? = frontend.binds.first?.address {
            proxyAddress = "\(ip)"
            proxyPort = "\(port)"
        }
        self.proxyAddress = proxyAddress
        self.proxyPort = proxyPort
        let entity = layout.entities[layout.server(backend: b, s)]
        environment = [
            "PATH=\(check.path)",
            "HAPROXY_PROXY_ADDR=\(proxyAddress)",
            "HAPROXY_PROXY_ID=\(entity.proxyID)",
            "HAPROXY_PROXY_NAME=\(backend.name)",
            "HAPROXY_PROXY_PORT=\(proxyPort)",
            "HAPROXY_SERVER_ID=\(entity.serverID)",
            "HAPROXY_SERVER_MAXCONN=\(server.maxconn)",
            "HAPROXY_SERVER_NAME=\(server.name)",
            "HAPROXY_SERVER_SSL=\(server.tls.enabled ? 1 : 0)",
            "HAPROXY_SERVER_PROTO=\(backend.mode == .http ? "h1" : "tcp")",
        ]
    }

    /// The server's address and port as the program gets them (a UNIX
    /// socket's path, its port NOT_USED).
    static func text(of address: SocketAddress?) -> (address: String, port: String) {
        guard let address else { return ("NOT_USED", "NOT_USED") }
        guard address.family == AF_INET || address.family == AF_INET6 else { return (address.description, "NOT_USED") }
        var text = [CChar](repeating: 0, count: 64)
        let n = text.withUnsafeMutableBufferPointer { address.formatHost(into: $0.baseAddress!) }
        return (String(decoding: text[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self), "\(address.port)")
    }
}

extension HealthChecker {
    /// Starts the program of server `i`'s check; its verdict when it cannot start.
    mutating func startCommand(_ i: Int, _ command: ExternalCommand, loop: inout EventLoop) -> [CheckEvent] {
        let (address, port) = ExternalCommand.text(of: servers[i].address)
        let connections = currentConnections(servers[i].backend, servers[i].server)
        let arguments = [command.program, command.proxyAddress, command.proxyPort, address, port]
        let environment = command.environment + ["HAPROXY_SERVER_ADDR=\(address)", "HAPROXY_SERVER_PORT=\(port)",
                                                 "HAPROXY_SERVER_CURCONN=\(connections)"]
        do {
            servers[i].pid = try Processes.spawnIsolated(path: command.program, arguments: arguments,
                                                        environment: environment)
            servers[i].pidfd = try Processes.pidfd(servers[i].pid)
            try loop.register(servers[i].pidfd, events: Epoll.readable, token: token(i))
        } catch {
            return finish(i, CheckResult(.processError, info: "cannot run \(command.program): \(error)"), loop: &loop)
        }
        return []
    }

    /// The program of server `i`'s check ended (its pidfd is readable): its verdict.
    mutating func commandEnded(_ i: Int, loop: inout EventLoop) -> [CheckEvent] {
        guard let exit = Processes.reap(servers[i].pid) else { return [] }
        servers[i].pid = 0
        return finish(i, HealthChecker.result(of: exit), loop: &loop)
    }

    /// The deadline of a running program passed: killed, unless it just ended.
    mutating func commandTimedOut(_ i: Int, loop: inout EventLoop) -> [CheckEvent] {
        if let exit = Processes.reap(servers[i].pid) {
            servers[i].pid = 0
            return finish(i, HealthChecker.result(of: exit), loop: &loop)
        }
        return finish(i, CheckResult(.processTimeout), loop: &loop)
    }

    static func result(of exit: Processes.Exit) -> CheckResult {
        switch exit {
        case .exited(0): return CheckResult(.processOK, code: 0)
        case .exited(let status): return CheckResult(.processError, code: Int(status))
        case .signaled(let signal): return CheckResult(.processError, info: "killed by signal \(signal)")
        }
    }

    /// Kills the program of server `i`'s check, if one runs, with what it
    /// started, and waits for it: no check outlives its check.
    mutating func endCommand(_ i: Int, loop: inout EventLoop) {
        if servers[i].pidfd >= 0 {
            loop.deregister(servers[i].pidfd)
            Posix.close(servers[i].pidfd)
            servers[i].pidfd = -1
        }
        guard servers[i].pid > 0 else { return }
        Processes.killGroup(servers[i].pid, SIGKILL)
        Processes.reapNow(servers[i].pid)
        servers[i].pid = 0
    }

    /// Kills every running program (the host is about to exec itself); their
    /// checks run again an interval later, should the host stay.
    public mutating func endCommands(loop: inout EventLoop) {
        for i in servers.indices where servers[i].pid > 0 {
            endCommand(i, loop: &loop)
            servers[i].running = false
            servers[i].attempt &+= 1
            servers[i].deadline = loop.now + Int64(servers[i].settings.inter)
            loop.schedule(token(i), at: servers[i].deadline)
        }
    }
}
