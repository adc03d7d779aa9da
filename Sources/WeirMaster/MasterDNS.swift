import Glibc
import WeirConfig
import WeirDNS
import WeirHealth
import WeirLoop
import WeirShared
import WeirSystem

/// The master's DNS client: the servers with `resolvers` have their name
/// asked again every `timeout resolve`, over UDP, without ever blocking the
/// loop; each answer moves the server to an address of the answer (it keeps
/// its own while the answer still holds it), and a name that stops
/// resolving for longer than its `hold` puts the server in resolution
/// maintenance until it resolves again.
struct DNSClient {
    /// One name asked for the servers that share it (same section, name and preference).
    struct Resolution {
        var section: Int
        var host: String
        var prefer: ResolvePrefer
        /// A `server-template`'s servers share the answer's records, one each.
        var template: Int?
        /// (backend, server) of each server resolved by this name.
        var servers: [(backend: Int, server: Int)]
        var asking = DNSRecordType.aaaa
        var id: UInt16 = 0
        var pending = false
        /// Queries sent for this resolution (`resolve_retries`).
        var tries = 0
        var deadline: Int64 = 0
        /// When the name last resolved (loop ms); nil: not since the start.
        var lastValid: Int64?
        /// Per server, since when the answers no longer hold its address
        /// (`hold obsolete`); nil while they do.
        var missingSince: [Int64?] = []
    }

    var resolutions: [Resolution] = []
    /// Per socket: its section and name server.
    var sockets: [(fd: Int32, section: Int, nameserver: Int)] = []
    let sections: [ResolversSection]
    var nextID: UInt16

    init(configuration: Configuration, segment: SharedSegment, now: Int64) {
        sections = configuration.resolvers
        nextID = UInt16(truncatingIfNeeded: getpid() &* 7919 &+ Int32(truncatingIfNeeded: now))
        for (b, backend) in configuration.backends.enumerated() {
            for (s, server) in backend.servers.enumerated() {
                guard let resolution = server.resolution, resolution.index >= 0,
                      case .host(let host, _) = server.address else { continue }
                var key = host.lowercased()
                if key.hasSuffix(".") { key.removeLast() }
                let template = server.template.map { b << 32 | $0 }
                if let r = resolutions.firstIndex(where: {
                    $0.section == resolution.index && $0.host == key && $0.prefer == resolution.prefer
                        && $0.template == template
                }) {
                    resolutions[r].servers.append((b, s))
                    resolutions[r].missingSince.append(nil)
                    continue
                }
                let entity = segment.layout.server(backend: b, s)
                let started = !segment.admin(entity).contains(.resolution)
                resolutions.append(Resolution(section: resolution.index, host: key, prefer: resolution.prefer,
                                              template: template, servers: [(b, s)], lastValid: started ? now : nil,
                                              missingSince: [nil]))
            }
        }
    }

    var isEmpty: Bool { resolutions.isEmpty }
}

extension Master {
    mutating func startResolution(loop: inout EventLoop) {
        stopResolution(loop: &loop)
        guard let segment = generations[current]?.segment else { return }
        var client = DNSClient(configuration: configuration, segment: segment, now: loop.now)
        guard !client.isEmpty else { return }
        let used = Set(client.resolutions.map(\.section))
        for (r, section) in client.sections.enumerated() where used.contains(r) {
            for (n, nameserver) in section.nameservers.enumerated() {
                let address = SocketAddress(ip: nameserver.ip.bytes, port: nameserver.port)
                do {
                    let fd = try Posix.socket(domain: address.family, type: Posix.datagramType).release()
                    do {
                        _ = try Posix.connect(fd, to: address)
                        try loop.register(fd, events: Epoll.readable,
                                          token: Token(kind: MasterToken.dns.rawValue, slot: UInt32(client.sockets.count)))
                    } catch {
                        Posix.close(fd)
                        throw error
                    }
                    client.sockets.append((fd, r, n))
                } catch {
                    Notice.warning("resolvers '\(section.name)': nameserver '\(nameserver.id)': \(error)")
                }
            }
        }
        for r in client.resolutions.indices {
            client.resolutions[r].deadline = loop.now
            loop.schedule(Token(kind: MasterToken.dns.rawValue, slot: UInt32(r)), at: loop.now)
        }
        resolver = client
        resolverGeneration = current
    }

    mutating func stopResolution(loop: inout EventLoop) {
        guard let client = resolver else { return }
        for socket in client.sockets {
            loop.deregister(socket.fd)
            Posix.close(socket.fd)
        }
        resolver = nil
    }

    /// A resolution's timer: time to ask again, or a query went unanswered.
    mutating func resolutionTimer(_ r: Int, deadline: Int64, loop: inout EventLoop) {
        guard var client = resolver, r < client.resolutions.count, client.resolutions[r].deadline == deadline else { return }
        let section = client.sections[client.resolutions[r].section]
        if client.resolutions[r].pending {
            if client.resolutions[r].tries >= section.retries {
                resolver = client
                failed(r, .timeout, loop: &loop)
                return
            }
        } else {
            client.resolutions[r].asking = client.resolutions[r].prefer == .ipv6 ? .aaaa : .a
            client.resolutions[r].tries = 0
        }
        ask(&client, r, loop: &loop)
        resolver = client
    }

    /// Sends the resolution's query to every name server of its section.
    private func ask(_ client: inout DNSClient, _ r: Int, loop: inout EventLoop) {
        let section = client.sections[client.resolutions[r].section]
        client.nextID &+= 1
        client.resolutions[r].id = client.nextID
        client.resolutions[r].pending = true
        client.resolutions[r].tries += 1
        if let query = DNSMessage.query(id: client.nextID, name: client.resolutions[r].host,
                                        type: client.resolutions[r].asking, payloadSize: section.acceptedPayloadSize) {
            for socket in client.sockets where socket.section == client.resolutions[r].section {
                _ = query.withUnsafeBytes { try? Posix.send(socket.fd, from: $0.baseAddress!, count: $0.count) }
            }
        }
        client.resolutions[r].deadline = loop.now + Int64(section.retryTimeout)
        loop.schedule(Token(kind: MasterToken.dns.rawValue, slot: UInt32(r)), at: client.resolutions[r].deadline)
    }

    /// Answers arrived on a name server's socket.
    mutating func resolutionEvent(_ socketIndex: Int, loop: inout EventLoop) {
        guard let client = resolver, socketIndex < client.sockets.count else { return }
        let socket = client.sockets[socketIndex]
        var buffer = [UInt8](repeating: 0, count: 65536)
        // Bounded: a flood of datagrams cannot hold the loop.
        for _ in 0..<64 {
            let result = buffer.withUnsafeMutableBytes { try? Posix.receive(socket.fd, into: $0.baseAddress!, count: $0.count) }
            guard case .processed(let n)? = result else { return }
            guard let response = DNSMessage.parse(Array(buffer[0..<n])) else { continue }
            answered(response, nameserver: socket, loop: &loop)
        }
    }

    private mutating func answered(_ response: DNSResponse, nameserver: (fd: Int32, section: Int, nameserver: Int),
                                   loop: inout EventLoop) {
        guard var client = resolver,
              let r = client.resolutions.firstIndex(where: {
                  $0.pending && $0.id == response.id && $0.host == response.name && $0.section == nameserver.section
              }) else { return }
        switch response.code {
        case .noError:
            let wanted = client.resolutions[r].asking == .a ? 4 : 16
            let ips = response.addresses.map(\.ip).filter { $0.count == wanted }
            if ips.isEmpty {
                // No record of the preferred family: ask for the other one.
                if client.resolutions[r].asking == (client.resolutions[r].prefer == .ipv6 ? .aaaa : .a) {
                    client.resolutions[r].asking = client.resolutions[r].asking == .aaaa ? .a : .aaaa
                    client.resolutions[r].tries = 0
                    ask(&client, r, loop: &loop)
                    resolver = client
                } else {
                    resolver = client
                    failed(r, .other, loop: &loop)
                }
                return
            }
            client.resolutions[r].pending = false
            client.resolutions[r].lastValid = loop.now
            let section = client.sections[client.resolutions[r].section]
            client.resolutions[r].deadline = loop.now + Int64(section.resolveInterval)
            loop.schedule(Token(kind: MasterToken.dns.rawValue, slot: UInt32(r)), at: client.resolutions[r].deadline)
            // `hold obsolete`: a server whose address left the answers keeps
            // it that long.
            var servers: [(backend: Int, server: Int)] = []
            if let segment = generations[resolverGeneration]?.segment {
                for (i, server) in client.resolutions[r].servers.enumerated() {
                    let runtime = segment.runtimeAddress(segment.layout.server(backend: server.backend, server.server))
                    if !runtime.isSet || runtime.ip.isEmpty || ips.contains(runtime.ip) {
                        client.resolutions[r].missingSince[i] = nil
                    } else {
                        let since = client.resolutions[r].missingSince[i] ?? loop.now
                        client.resolutions[r].missingSince[i] = since
                        if loop.now - since < Int64(section.holdObsolete) { continue }
                    }
                    servers.append(server)
                }
            }
            resolver = client
            let by = "\(section.name)/\(section.nameservers[nameserver.nameserver].id)"
            if client.resolutions[r].template != nil {
                spread(ips, over: servers, by: by, loop: &loop)
            } else {
                for server in servers {
                    resolved(server.backend, server.server, ips, by: by, loop: &loop)
                }
            }
        case .nameError, .refused, .other:
            resolver = client
            failed(r, Failure(response.code), loop: &loop)
        }
    }

    /// Why a name did not resolve.
    enum Failure {
        case timeout, nameError, refused, other

        init(_ code: DNSResponseCode) {
            switch code {
            case .nameError: self = .nameError
            case .refused: self = .refused
            case .noError, .other: self = .other
            }
        }
    }

    /// The name did not resolve: past its hold, its servers lose their address.
    private mutating func failed(_ r: Int, _ failure: Failure, loop: inout EventLoop) {
        guard var client = resolver else { return }
        let section = client.sections[client.resolutions[r].section]
        let hold: Int
        let status: String
        switch failure {
        case .timeout: (hold, status) = (section.holdTimeout, "DNS timeout status")
        case .nameError: (hold, status) = (section.holdNX, "DNS NX status")
        case .refused: (hold, status) = (section.holdRefused, "DNS refused status")
        case .other: (hold, status) = (section.holdOther, "unspecified DNS error")
        }
        client.resolutions[r].pending = false
        client.resolutions[r].deadline = loop.now + Int64(section.resolveInterval)
        loop.schedule(Token(kind: MasterToken.dns.rawValue, slot: UInt32(r)), at: client.resolutions[r].deadline)
        resolver = client
        if let last = client.resolutions[r].lastValid, loop.now - last < Int64(hold) { return }
        guard let segment = generations[resolverGeneration]?.segment else { return }
        for server in client.resolutions[r].servers {
            let entity = segment.layout.server(backend: server.backend, server.server)
            guard !segment.admin(entity).contains(.resolution) else { continue }
            segment.setAddress(ip: [], port: 0, entity)
            let name = segment.layout.entities[entity]
            Notice.warning("Server \(name.proxy)/\(name.server) is going DOWN for maintenance (\(status)).")
            followAddress(server.backend, server.server, nil, loop: &loop)
        }
    }

    /// A server's name resolved to `ips`: it keeps its address if the
    /// answer still holds it, else takes the first in a `resolve-net`, else
    /// the first.
    private mutating func resolved(_ b: Int, _ s: Int, _ ips: [[UInt8]], by: String, loop: inout EventLoop) {
        guard let segment = generations[resolverGeneration]?.segment, b < configuration.backends.count,
              s < configuration.backends[b].servers.count else { return }
        let server = configuration.backends[b].servers[s]
        guard case .host(_, let port) = server.address else { return }
        let entity = segment.layout.server(backend: b, s)
        let runtime = segment.runtimeAddress(entity)
        let wasMaintained = segment.admin(entity).contains(.resolution)
        var choice = ips[0]
        if runtime.isSet && ips.contains(runtime.ip) {
            choice = runtime.ip
        } else if let networks = server.resolution?.networks,
                  let inNet = ips.first(where: { ip in networks.contains { DNSClient.contains($0.address, $0.prefixLength, ip) } }) {
            choice = inNet
        }
        let before = runtime.isSet ? runtime.hostText : ""
        guard segment.setAddress(ip: choice, port: port, entity) || wasMaintained else { return }
        let after = RuntimeAddress(ip: choice, port: port).hostText
        let name = segment.layout.entities[entity]
        if before != after && !before.isEmpty {
            Notice.warning("\(name.proxy)/\(name.server) changed its IP from \(before) to \(after) by \(by).")
        }
        if wasMaintained {
            Notice.warning("Server \(name.proxy)/\(name.server) ('\(server.address)') is UP/READY (resolves again).")
        }
        followAddress(b, s, RuntimeAddress(ip: choice, port: port).socketAddress, loop: &loop)
    }

    /// A `server-template`'s answer: each server keeps its address while the
    /// answer holds it, the other records go to the servers without one, in
    /// order, and servers left without a record go into resolution maintenance.
    private mutating func spread(_ ips: [[UInt8]], over servers: [(backend: Int, server: Int)], by: String,
                                 loop: inout EventLoop) {
        guard let segment = generations[resolverGeneration]?.segment else { return }
        var unused = ips
        var waiting: [(backend: Int, server: Int)] = []
        for server in servers {
            let runtime = segment.runtimeAddress(segment.layout.server(backend: server.backend, server.server))
            if runtime.isSet, let i = unused.firstIndex(of: runtime.ip) {
                unused.remove(at: i)
            } else {
                waiting.append(server)
            }
        }
        for server in waiting {
            guard !unused.isEmpty else {
                let entity = segment.layout.server(backend: server.backend, server.server)
                if segment.admin(entity).contains(.resolution) { continue }
                segment.setAddress(ip: [], port: 0, entity)
                let name = segment.layout.entities[entity]
                Notice.warning("Server \(name.proxy)/\(name.server) is going DOWN for maintenance (No IP for server).")
                followAddress(server.backend, server.server, nil, loop: &loop)
                continue
            }
            resolved(server.backend, server.server, [unused.removeFirst()], by: by, loop: &loop)
        }
    }

    /// The checks follow the server's new address.
    private mutating func followAddress(_ b: Int, _ s: Int, _ address: SocketAddress?, loop: inout EventLoop) {
        guard checksGeneration == resolverGeneration else { return }
        checker?.follow(backend: b, server: s, address: address, loop: &loop)
    }
}

extension DNSClient {
    /// Whether `ip` lies in `network`/`prefixLength` (same family only).
    static func contains(_ network: IPAddress, _ prefixLength: Int, _ ip: [UInt8]) -> Bool {
        guard network.bytes.count == ip.count else { return false }
        var remaining = prefixLength
        for i in ip.indices where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            if ip[i] & mask != network.bytes[i] & mask { return false }
            remaining -= bits
        }
        return true
    }
}
