import WeirBalance
import WeirConfig
import WeirShared
import WeirSystem

struct ListenerRuntime {
    var fd: Int32
    var frontend: Int
    var paused = false
    var closed = false
}

struct FrontendRuntime {
    let name: String
    let nameBytes: [UInt8]
    /// 0: no frontend limit.
    let maxconn: Int
    let clientTimeout: Int?
    let clientFinTimeout: Int?
    /// The backend every connection goes to, -1 when none (connections are refused).
    let backend: Int
    let tcpLog: Bool
    let dontLogNull: Bool
    let logTargets: [LogTarget]
    /// The complete HTTP response for `http-request return`, or nil.
    let localResponse: [UInt8]?
    var current = 0
    var cumulated = 0
    var paused = false

    init(_ frontend: Frontend) {
        name = frontend.name
        nameBytes = Array(frontend.name.utf8)
        maxconn = frontend.maxconn
        clientTimeout = frontend.timeouts.client
        clientFinTimeout = frontend.timeouts.clientFin
        // Conditions are constants until ACLs arrive: the first rule that
        // always matches wins, else the default backend.
        backend = frontend.useBackends.first { $0.condition == .always }?.backend ?? frontend.defaultBackend ?? -1
        tcpLog = frontend.tcpLog
        dontLogNull = frontend.dontLogNull
        logTargets = frontend.logs
        localResponse = frontend.localResponse.map(FrontendRuntime.encode)
    }

    private static func encode(_ response: LocalResponse) -> [UInt8] {
        var head = "HTTP/1.1 \(response.status) \(reasonPhrase(response.status))\r\n"
        if let type = response.contentType { head += "content-type: \(type)\r\n" }
        head += "content-length: \(response.body.count)\r\nconnection: close\r\n\r\n"
        return Array(head.utf8) + response.body
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 201: return "Created"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 400: return "Bad Request"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return "Status"
        }
    }
}

struct ServerRuntime {
    let name: String
    let nameBytes: [UInt8]
    let address: SocketAddress
}

struct BackendRuntime {
    let name: String
    let nameBytes: [UInt8]
    var balancer: Balancer
    let servers: [ServerRuntime]
    let usesSourceHash: Bool
    let connectTimeout: Int?
    let serverTimeout: Int?
    let queueTimeout: Int?
    let tunnelTimeout: Int?
    let serverFinTimeout: Int?
    let retries: Int
    let redispatch: Bool
    var queueHead: Int32 = -1
    var queueTail: Int32 = -1
    var queueLength = 0
    var current = 0
    var cumulated = 0

    init(_ backend: Backend) throws(StartupError) {
        name = backend.name
        nameBytes = Array(backend.name.utf8)
        var servers: [ServerRuntime] = []
        var slots: [ServerSlot] = []
        for server in backend.servers {
            let address: SocketAddress
            switch server.address {
            case .ip(let ip, let port):
                address = SocketAddress(ip: ip.bytes, port: port)
            case .host(let host, let port):
                do { address = try SocketAddress.resolve(host: host, port: port) } catch {
                    throw StartupError("\(server.location): server \(backend.name)/\(server.name): \(error)")
                }
            case .unix(let path):
                guard let unix = SocketAddress(unixPath: path) else {
                    throw StartupError("\(server.location): server \(backend.name)/\(server.name): path too long")
                }
                address = unix
            }
            servers.append(ServerRuntime(name: server.name, nameBytes: Array(server.name.utf8), address: address))
            slots.append(ServerSlot(weight: server.weight, isBackup: server.backup, isUsable: !server.disabled,
                                    maxconn: server.maxconn, id: server.id))
        }
        self.servers = servers
        let algorithm: Balancer.Algorithm
        switch backend.balance {
        case .roundRobin: algorithm = .roundRobin
        case .staticRoundRobin: algorithm = .staticRoundRobin
        case .leastConn: algorithm = .leastConn
        case .first: algorithm = .first
        case .source: algorithm = .source
        case .random(let draws): algorithm = .random(draws: draws)
        }
        usesSourceHash = backend.balance == .source
        balancer = Balancer(algorithm: algorithm, servers: slots, seed: 0x5765_6972)
        connectTimeout = backend.timeouts.connect
        serverTimeout = backend.timeouts.server
        queueTimeout = backend.timeouts.queue ?? backend.timeouts.connect
        tunnelTimeout = backend.timeouts.tunnel
        serverFinTimeout = backend.timeouts.serverFin
        retries = backend.retries
        redispatch = backend.redispatch
    }
}

