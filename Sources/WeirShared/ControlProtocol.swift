import WeirConfig

/// Messages between the master and a worker on their SOCK_SEQPACKET channel
/// (one message per packet, text, file descriptors attached to `hello`).
public enum ControlMessage: Sendable, Equatable {
    /// Master to a new worker. Attached descriptors, in order: the validated
    /// configuration (a memfd holding a `ConfigBundle`), the shared-memory
    /// segment, then one listening socket per entry of `listeners`.
    case hello(Hello)
    /// Worker to master: listeners registered, accepting.
    case ready
    /// Master to worker: stop accepting, finish established connections, exit.
    case drain
    /// Master to worker: exit now.
    case stop
    /// Master to worker: a health check changed a server's state (its
    /// backend and server are indices into the configuration both hold).
    /// Until health lives in shared memory, this is how checks that run
    /// once in the master reach every worker's balancer.
    case serverState(ServerState)
    /// Worker to master: live traffic on a server with `observe` saw an
    /// error, or a success after errors (`outcome` in `PassiveOutcome`'s
    /// wire form: `L4ERR`, `L4OK`, `HTTP503`, `HTTPINV`).
    case observed(backend: Int, server: Int, outcome: String)
    /// Master to worker: the runtime API changed the TLS side
    /// (`set ssl ocsp-response`, `set ssl tls-key`), which each worker
    /// holds in its own OpenSSL contexts.
    case tls(TLSUpdate)

    public enum TLSUpdate: Sendable, Equatable {
        /// A DER OCSP response, already checked by the master, to staple
        /// for the certificates it is about.
        case ocspResponse([UInt8])
        /// A key for the binds with `tls-ticket-keys FILE`: it joins their
        /// live keys as the next to encrypt.
        case ticketKey(file: String, key: [UInt8])
    }

    public struct ServerState: Sendable, Equatable {
        public var backend: Int
        public var server: Int
        public var usable: Bool
        /// Effective weight, 0...256 (below the configured one during slow start).
        public var weight: Int

        public init(backend: Int, server: Int, usable: Bool, weight: Int) {
            self.backend = backend
            self.server = server
            self.usable = usable
            self.weight = weight
        }
    }

    public struct Hello: Sendable, Equatable {
        public var generation: Int
        public var slot: Int
        public var masterPID: Int32
        /// For each attached listening socket: its frontend index and bound name.
        public var listeners: [ListenerInfo]

        public init(generation: Int, slot: Int, masterPID: Int32, listeners: [ListenerInfo]) {
            self.generation = generation
            self.slot = slot
            self.masterPID = masterPID
            self.listeners = listeners
        }
    }

    public struct ListenerInfo: Sendable, Equatable {
        public var frontend: Int
        /// Index into the frontend's `binds` (its TLS settings).
        public var bind: Int
        public var name: String

        public init(frontend: Int, bind: Int = 0, name: String) {
            self.frontend = frontend
            self.bind = bind
            self.name = name
        }
    }

    /// Number of descriptors before the listeners in a `hello`.
    public static let helloFixedDescriptors = 2

    public func encoded() -> [UInt8] {
        switch self {
        case .hello(let hello):
            var text = "HELLO \(hello.generation) \(hello.slot) \(hello.masterPID)\n"
            for listener in hello.listeners { text += "LISTENER \(listener.frontend).\(listener.bind) \(listener.name)\n" }
            return Array(text.utf8)
        case .ready: return Array("READY\n".utf8)
        case .drain: return Array("DRAIN\n".utf8)
        case .stop: return Array("STOP\n".utf8)
        case .serverState(let s):
            return Array("SERVER \(s.backend) \(s.server) \(s.usable ? 1 : 0) \(s.weight)\n".utf8)
        case .observed(let backend, let server, let outcome):
            return Array("OBSERVED \(backend) \(server) \(outcome)\n".utf8)
        case .tls(.ocspResponse(let der)):
            return Array("OCSP \(Self.hex(der))\n".utf8)
        case .tls(.ticketKey(let file, let key)):
            return Array("TLSKEY \(Self.hex(key)) \(file)\n".utf8)
        }
    }

    /// Decodes one packet; nil for anything malformed.
    public static func decode(_ bytes: [UInt8]) -> ControlMessage? {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        guard let first = lines.first else { return nil }
        let words = first.split(separator: " ")
        switch words.first {
        case "READY": return .ready
        case "DRAIN": return .drain
        case "STOP": return .stop
        case "OCSP":
            guard words.count == 2, let der = Self.bytes(fromHex: words[1]) else { return nil }
            return .tls(.ocspResponse(der))
        case "TLSKEY":
            let parts = first.split(separator: " ", maxSplits: 2)
            guard parts.count == 3, let key = Self.bytes(fromHex: parts[1]) else { return nil }
            return .tls(.ticketKey(file: String(parts[2]), key: key))
        case "OBSERVED":
            guard words.count == 4, let backend = Int(words[1]), let server = Int(words[2]) else { return nil }
            return .observed(backend: backend, server: server, outcome: String(words[3]))
        case "SERVER":
            guard words.count == 5, let backend = Int(words[1]), let server = Int(words[2]), let weight = Int(words[4]),
                  words[3] == "0" || words[3] == "1" else { return nil }
            return .serverState(ServerState(backend: backend, server: server, usable: words[3] == "1", weight: weight))
        case "HELLO":
            guard words.count == 4, let generation = Int(words[1]), let slot = Int(words[2]),
                  let master = Int32(words[3]) else { return nil }
            var listeners: [ListenerInfo] = []
            for line in lines.dropFirst() {
                let parts = line.split(separator: " ", maxSplits: 2)
                guard parts.count == 3, parts[0] == "LISTENER" else { return nil }
                let indices = parts[1].split(separator: ".")
                guard indices.count == 2, let frontend = Int(indices[0]), let bind = Int(indices[1]) else { return nil }
                listeners.append(ListenerInfo(frontend: frontend, bind: bind, name: String(parts[2])))
            }
            return .hello(Hello(generation: generation, slot: slot, masterPID: master, listeners: listeners))
        default:
            return nil
        }
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        String(decoding: Hex.digits(bytes, uppercase: false), as: UTF8.self)
    }

    private static func bytes(fromHex text: Substring) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
