import Glibc
import WeirConfig
import WeirDNS
import WeirLoop
import WeirSystem

/// The DNS client of the servers with `resolvers`, run on an event loop
/// that someone else owns: the master's, or the single process's (`-d`).
/// The host gives it one token kind, forwards it the events and timers of
/// that kind, and makes the health checks follow the `AddressChange`s it
/// returns.
///
/// Every name is asked again every `timeout resolve`, over UDP, from every
/// name server of its section, without ever blocking the loop; each answer
/// moves the name's servers to its addresses in shared memory (a server
/// keeps its own while the answers hold it, for `hold obsolete` after they
/// stop), and a name that stops resolving for longer than its `hold` puts
/// its servers in resolution maintenance until it resolves again.
///
/// A name that starts with `_` is asked for its SRV records, as HAProxy
/// does: each record gives one of the name's servers its target host, port
/// and weight; the target's address comes from the answer's additional
/// section, else from an A/AAAA query of its own.
public struct DNSClient {
    /// A server's new address (nil: none, it is in resolution maintenance).
    public struct AddressChange {
        public var backend: Int
        public var server: Int
        public var address: SocketAddress?
    }

    /// The SRV record a server follows: its target host and port.
    struct ServiceTarget: Equatable {
        var host: String
        var port: UInt16
    }

    /// An A or AAAA query for an SRV record's target.
    struct TargetLookup {
        var resolution: Int
        var host: String
        var asking: DNSRecordType
    }

    /// One name, asked for the servers that share it (same section, name,
    /// preference and `server-template` line).
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
        var missingSince: [Int64?]
        /// SRV names only: the last answer's records, each server's record,
        /// and the addresses known for the targets.
        var services: [DNSServiceRecord] = []
        var targets: [ServiceTarget?] = []
        var targetAddresses: [String: [[UInt8]]] = [:]

        var isService: Bool { host.hasPrefix("_") }
        /// The record type of the first query of a round.
        var firstQuestion: DNSRecordType { isService ? .srv : prefer == .ipv6 ? .aaaa : .a }
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

    let tokenKind: UInt8
    let segment: SharedSegment
    let configuration: Configuration
    var resolutions: [Resolution] = []
    /// Per socket: its section and name server.
    var sockets: [(fd: Int32, section: Int, nameserver: Int)] = []
    var nextID: UInt16
    var changes: [AddressChange] = []
    /// Target queries in flight, by id.
    var targetLookups: [UInt16: TargetLookup] = [:]

    /// Opens a socket per name server and schedules every name's first
    /// query; nil when no server has `resolvers`.
    public init?(configuration: Configuration, segment: SharedSegment, tokenKind: UInt8, loop: inout EventLoop) {
        self.tokenKind = tokenKind
        self.segment = segment
        self.configuration = configuration
        nextID = UInt16(truncatingIfNeeded: Int(getpid()) &* 7919 &+ Int(loop.now))
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
                    resolutions[r].targets.append(nil)
                    continue
                }
                let started = !segment.admin(segment.layout.server(backend: b, s)).contains(.resolution)
                resolutions.append(Resolution(section: resolution.index, host: key, prefer: resolution.prefer,
                                              template: template, servers: [(b, s)],
                                              lastValid: started ? loop.now : nil, missingSince: [nil], targets: [nil]))
            }
        }
        guard !resolutions.isEmpty else { return nil }
        let used = Set(resolutions.map(\.section))
        for (r, section) in configuration.resolvers.enumerated() where used.contains(r) {
            for (n, nameserver) in section.nameservers.enumerated() {
                let address = SocketAddress(ip: nameserver.ip.bytes, port: nameserver.port)
                do {
                    let fd = try Posix.socket(domain: address.family, type: Posix.datagramType).release()
                    do {
                        _ = try Posix.connect(fd, to: address)
                        try loop.register(fd, events: Epoll.readable,
                                          token: Token(kind: tokenKind, slot: UInt32(sockets.count)))
                    } catch {
                        Posix.close(fd)
                        throw error
                    }
                    sockets.append((fd, r, n))
                } catch {
                    Notice.warning("resolvers '\(section.name)': nameserver '\(nameserver.id)': \(error)")
                }
            }
        }
        for r in resolutions.indices {
            resolutions[r].deadline = loop.now
            loop.schedule(Token(kind: tokenKind, slot: UInt32(r)), at: loop.now)
        }
    }

    /// Closes the sockets (the host is stopping or reloading).
    public func stop(loop: inout EventLoop) {
        for socket in sockets {
            loop.deregister(socket.fd)
            Posix.close(socket.fd)
        }
    }

    /// A resolution's timer: time to ask again, or a query went unanswered.
    public mutating func handleTimer(_ token: Token, deadline: Int64, loop: inout EventLoop) -> [AddressChange] {
        let r = Int(token.slot)
        guard r < resolutions.count, resolutions[r].deadline == deadline else { return [] }
        if resolutions[r].pending {
            if resolutions[r].tries >= configuration.resolvers[resolutions[r].section].retries {
                failed(r, .timeout, loop: &loop)
                return takeChanges()
            }
        } else {
            resolutions[r].asking = resolutions[r].firstQuestion
            resolutions[r].tries = 0
        }
        ask(r, loop: &loop)
        return []
    }

    /// Answers arrived on a name server's socket.
    public mutating func handleEvent(_ token: Token, loop: inout EventLoop) -> [AddressChange] {
        let index = Int(token.slot)
        guard index < sockets.count else { return [] }
        let socket = sockets[index]
        var buffer = [UInt8](repeating: 0, count: 65536)
        // Bounded: a flood of datagrams cannot hold the loop.
        for _ in 0..<64 {
            let result = buffer.withUnsafeMutableBytes { try? Posix.receive(socket.fd, into: $0.baseAddress!, count: $0.count) }
            guard case .processed(let n)? = result else { break }
            guard let response = DNSMessage.parse(Array(buffer[0..<n])) else { continue }
            answered(response, section: socket.section, nameserver: socket.nameserver, loop: &loop)
        }
        return takeChanges()
    }

    private mutating func takeChanges() -> [AddressChange] {
        defer { changes = [] }
        return changes
    }

    private mutating func schedule(_ r: Int, after milliseconds: Int, loop: inout EventLoop) {
        resolutions[r].deadline = loop.now + Int64(milliseconds)
        loop.schedule(Token(kind: tokenKind, slot: UInt32(r)), at: resolutions[r].deadline)
    }

    /// Sends the resolution's query to every name server of its section.
    private mutating func ask(_ r: Int, loop: inout EventLoop) {
        let section = configuration.resolvers[resolutions[r].section]
        nextID &+= 1
        resolutions[r].id = nextID
        resolutions[r].pending = true
        resolutions[r].tries += 1
        if let query = DNSMessage.query(id: nextID, name: resolutions[r].host, type: resolutions[r].asking,
                                        payloadSize: section.acceptedPayloadSize) {
            for socket in sockets where socket.section == resolutions[r].section {
                _ = query.withUnsafeBytes { try? Posix.send(socket.fd, from: $0.baseAddress!, count: $0.count) }
            }
        }
        schedule(r, after: section.retryTimeout, loop: &loop)
    }

    private mutating func answered(_ response: DNSResponse, section sectionIndex: Int, nameserver: Int,
                                   loop: inout EventLoop) {
        if let lookup = targetLookups[response.id], lookup.host == response.name,
           resolutions[lookup.resolution].section == sectionIndex {
            targetAnswered(lookup, id: response.id, response, nameserver: nameserver, loop: &loop)
            return
        }
        guard let r = resolutions.firstIndex(where: {
            $0.pending && $0.id == response.id && $0.host == response.name && $0.section == sectionIndex
        }) else { return }
        let section = configuration.resolvers[sectionIndex]
        guard response.code == .noError else {
            failed(r, Failure(response.code), loop: &loop)
            return
        }
        if resolutions[r].isService {
            resolutions[r].pending = false
            resolutions[r].lastValid = loop.now
            schedule(r, after: section.resolveInterval, loop: &loop)
            servicesAnswered(r, response, by: "\(section.name)/\(section.nameservers[nameserver].id)", loop: &loop)
            return
        }
        let wanted = resolutions[r].asking == .a ? 4 : 16
        let ips = response.addresses.map(\.ip).filter { $0.count == wanted }
        if ips.isEmpty {
            // No record of the preferred family: ask for the other one.
            if resolutions[r].asking == (resolutions[r].prefer == .ipv6 ? .aaaa : .a) {
                resolutions[r].asking = resolutions[r].asking == .aaaa ? .a : .aaaa
                resolutions[r].tries = 0
                ask(r, loop: &loop)
            } else {
                failed(r, .other, loop: &loop)
            }
            return
        }
        resolutions[r].pending = false
        resolutions[r].lastValid = loop.now
        schedule(r, after: section.resolveInterval, loop: &loop)
        // `hold obsolete`: a server whose address left the answers keeps it that long.
        var servers: [(backend: Int, server: Int)] = []
        for (i, server) in resolutions[r].servers.enumerated() {
            let runtime = segment.runtimeAddress(segment.layout.server(backend: server.backend, server.server))
            if !runtime.isSet || runtime.ip.isEmpty || ips.contains(runtime.ip) {
                resolutions[r].missingSince[i] = nil
            } else {
                let since = resolutions[r].missingSince[i] ?? loop.now
                resolutions[r].missingSince[i] = since
                if loop.now - since < Int64(section.holdObsolete) { continue }
            }
            servers.append(server)
        }
        let by = "\(section.name)/\(section.nameservers[nameserver].id)"
        if resolutions[r].template != nil {
            spread(ips, over: servers, by: by)
        } else {
            for server in servers { resolved(server.backend, server.server, ips, by: by) }
        }
    }

    /// The name did not resolve: past its hold, its servers lose their address.
    private mutating func failed(_ r: Int, _ failure: Failure, loop: inout EventLoop) {
        let section = configuration.resolvers[resolutions[r].section]
        let hold: Int
        let status: String
        switch failure {
        case .timeout: (hold, status) = (section.holdTimeout, "DNS timeout status")
        case .nameError: (hold, status) = (section.holdNX, "DNS NX status")
        case .refused: (hold, status) = (section.holdRefused, "DNS refused status")
        case .other: (hold, status) = (section.holdOther, "unspecified DNS error")
        }
        resolutions[r].pending = false
        schedule(r, after: section.resolveInterval, loop: &loop)
        if let last = resolutions[r].lastValid, loop.now - last < Int64(hold) { return }
        for server in resolutions[r].servers { unresolved(server.backend, server.server, status) }
    }

    /// A server loses its address: resolution maintenance.
    private mutating func unresolved(_ b: Int, _ s: Int, _ status: String) {
        let entity = segment.layout.server(backend: b, s)
        guard !segment.admin(entity).contains(.resolution) else { return }
        segment.setAddress(ip: [], port: 0, entity)
        let name = segment.layout.entities[entity]
        Notice.warning("Server \(name.proxy)/\(name.server) is going DOWN for maintenance (\(status)).")
        changes.append(AddressChange(backend: b, server: s, address: nil))
    }

    /// A server's name resolved to `ips`: it keeps its address if the
    /// answer still holds it, else takes the first in a `resolve-net`, else
    /// the first. `servicePort`: the port of the server's SRV record.
    private mutating func resolved(_ b: Int, _ s: Int, _ ips: [[UInt8]], servicePort: UInt16? = nil, by: String) {
        let server = configuration.backends[b].servers[s]
        guard case .host(_, let configuredPort) = server.address else { return }
        let port = servicePort ?? configuredPort
        let entity = segment.layout.server(backend: b, s)
        let runtime = segment.runtimeAddress(entity)
        let wasMaintained = segment.admin(entity).contains(.resolution)
        var choice = ips[0]
        if runtime.isSet && ips.contains(runtime.ip) {
            choice = runtime.ip
        } else if let networks = server.resolution?.networks,
                  let inNet = ips.first(where: { ip in networks.contains { Self.contains($0.address, $0.prefixLength, ip) } }) {
            choice = inNet
        }
        let before = runtime.isSet ? runtime.hostText : ""
        guard segment.setAddress(ip: choice, port: port, entity) || wasMaintained else { return }
        let address = RuntimeAddress(ip: choice, port: port)
        let name = segment.layout.entities[entity]
        if before != address.hostText && !before.isEmpty {
            Notice.warning("\(name.proxy)/\(name.server) changed its IP from \(before) to \(address.hostText) by \(by).")
        }
        if wasMaintained {
            Notice.warning("Server \(name.proxy)/\(name.server) ('\(server.address)') is UP/READY (resolves again).")
        }
        changes.append(AddressChange(backend: b, server: s, address: address.socketAddress))
    }

    /// A `server-template`'s answer: each server keeps its address while the
    /// answer holds it, the other records go to the servers without one, in
    /// order, and servers left without a record go into resolution maintenance.
    private mutating func spread(_ ips: [[UInt8]], over servers: [(backend: Int, server: Int)], by: String) {
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
            if unused.isEmpty {
                unresolved(server.backend, server.server, "No IP for server")
            } else {
                resolved(server.backend, server.server, [unused.removeFirst()], by: by)
            }
        }
    }

    // MARK: SRV records

    /// An SRV answer: its records go to the name's servers, as HAProxy
    /// gives them: a server keeps its record while the answers hold it (for
    /// `hold obsolete` after they stop), the other records go to the servers
    /// without one, in order. A record's weight becomes the server's
    /// (`weight / 256 + 1`, unless `resolve-opts ignore-weight`).
    private mutating func servicesAnswered(_ r: Int, _ response: DNSResponse, by: String, loop: inout EventLoop) {
        var records: [DNSServiceRecord] = []
        for record in response.services where record.port != 0 && !record.target.isEmpty {
            if !records.contains(where: { $0.target == record.target && $0.port == record.port }) { records.append(record) }
        }
        resolutions[r].services = records
        // The additional section's addresses replace the last ones; targets
        // it leaves out are asked for below.
        var addresses: [String: [[UInt8]]] = [:]
        for record in response.additional where records.contains(where: { $0.target == record.name }) {
            addresses[record.name, default: []].append(record.ip)
        }
        for (host, ips) in resolutions[r].targetAddresses where addresses[host] == nil
            && records.contains(where: { $0.target == host }) {
            addresses[host] = ips
        }
        resolutions[r].targetAddresses = addresses
        for (id, lookup) in targetLookups where lookup.resolution == r { targetLookups[id] = nil }
        assignServices(r, by: response.additional.isEmpty ? by : "DNS additional record", loop: &loop)
        var asked = Set<String>()
        for record in records where addresses[record.target] == nil && asked.insert(record.target).inserted {
            lookUpTarget(r, record.target, type: resolutions[r].prefer == .ipv6 ? .aaaa : .a)
        }
    }

    private mutating func assignServices(_ r: Int, by: String, loop: inout EventLoop) {
        let resolution = resolutions[r]
        let section = configuration.resolvers[resolution.section]
        var unused = resolution.services
        var assigned = [DNSServiceRecord?](repeating: nil, count: resolution.servers.count)
        func take(_ i: Int, where matches: (DNSServiceRecord) -> Bool) {
            guard let k = unused.firstIndex(where: matches) else { return }
            assigned[i] = unused.remove(at: k)
        }
        // A server keeps its record; after a reload, which forgets the
        // records, a server keeps the one whose target has its address.
        for (i, server) in resolution.servers.enumerated() {
            if let target = resolution.targets[i] {
                take(i) { $0.target == target.host && $0.port == target.port }
            } else {
                let runtime = segment.runtimeAddress(segment.layout.server(backend: server.backend, server.server))
                guard runtime.isSet, !runtime.ip.isEmpty else { continue }
                take(i) { $0.port == runtime.port && resolution.targetAddresses[$0.target]?.contains(runtime.ip) == true }
            }
        }
        // A server whose record left the answers keeps it `hold obsolete`, then waits.
        var free: [Int] = []
        for (i, server) in resolution.servers.enumerated() where assigned[i] == nil {
            guard resolution.targets[i] != nil else {
                free.append(i)
                continue
            }
            let since = resolutions[r].missingSince[i] ?? loop.now
            resolutions[r].missingSince[i] = since
            guard loop.now - since >= Int64(section.holdObsolete) else { continue }
            resolutions[r].missingSince[i] = nil
            resolutions[r].targets[i] = nil
            unresolved(server.backend, server.server, "entry removed from SRV record")
            free.append(i)
        }
        for i in free.sorted() where !unused.isEmpty { assigned[i] = unused.removeFirst() }
        for (i, server) in resolution.servers.enumerated() {
            guard let record = assigned[i] else { continue }
            resolutions[r].missingSince[i] = nil
            resolutions[r].targets[i] = ServiceTarget(host: record.target, port: record.port)
            let entity = segment.layout.server(backend: server.backend, server.server)
            let serverConfig = configuration.backends[server.backend].servers[server.server]
            if serverConfig.resolution?.ignoreWeight != true {
                segment.setWeight(Int(record.weight) / 256 + 1, entity)
            }
            if let ips = resolutions[r].targetAddresses[record.target], !ips.isEmpty {
                resolved(server.backend, server.server, ips, servicePort: record.port, by: by)
            }
        }
    }

    /// Asks the name servers for an SRV target's addresses.
    private mutating func lookUpTarget(_ r: Int, _ host: String, type: DNSRecordType) {
        let section = configuration.resolvers[resolutions[r].section]
        nextID &+= 1
        guard let query = DNSMessage.query(id: nextID, name: host, type: type, payloadSize: section.acceptedPayloadSize)
        else { return }
        targetLookups[nextID] = TargetLookup(resolution: r, host: host, asking: type)
        for socket in sockets where socket.section == resolutions[r].section {
            _ = query.withUnsafeBytes { try? Posix.send(socket.fd, from: $0.baseAddress!, count: $0.count) }
        }
    }

    /// A target's addresses: its servers take them; no record of the
    /// preferred family asks for the other one. Unanswered lookups are
    /// asked again with the next round's SRV answer.
    private mutating func targetAnswered(_ lookup: TargetLookup, id: UInt16, _ response: DNSResponse, nameserver: Int,
                                         loop: inout EventLoop) {
        targetLookups[id] = nil
        guard response.code == .noError else { return }
        let r = lookup.resolution
        let wanted = lookup.asking == .a ? 4 : 16
        let ips = response.addresses.map(\.ip).filter { $0.count == wanted }
        guard !ips.isEmpty else {
            if lookup.asking == (resolutions[r].prefer == .ipv6 ? .aaaa : .a) {
                lookUpTarget(r, lookup.host, type: lookup.asking == .aaaa ? .a : .aaaa)
            }
            return
        }
        resolutions[r].targetAddresses[lookup.host] = ips
        let section = configuration.resolvers[resolutions[r].section]
        assignServices(r, by: "\(section.name)/\(section.nameservers[nameserver].id)", loop: &loop)
    }

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
