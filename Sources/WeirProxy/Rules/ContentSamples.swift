import WeirConfig
import WeirHTTP

/// What `tcp-request content` rules decided about the bytes buffered so far.
enum ContentVerdict {
    case accept
    case reject
    case silentDrop
    /// A rule cannot be decided yet: wait for more bytes or the inspection delay.
    case wait
}

/// HAProxy's three-valued ACL result while content may still arrive.
private enum Tristate: UInt8 {
    case fail = 0
    /// Cannot be told yet.
    case miss = 1
    case pass = 3

    static func & (a: Tristate, b: Tristate) -> Tristate { Tristate(rawValue: a.rawValue & b.rawValue)! }
    static func | (a: Tristate, b: Tristate) -> Tristate { Tristate(rawValue: a.rawValue | b.rawValue)! }
    /// `!`: a miss stays a miss.
    var negated: Tristate { self == .miss ? .miss : self == .pass ? .fail : .pass }
}

extension RuleEngine {
    // MARK: - Fetches

    /// The fetches over `input.content`, the bytes buffered in mode tcp
    /// before any is forwarded; nothing outside content inspection. A value
    /// that more bytes could still give or change marks the evaluation
    /// undecided (HAProxy's SMP_F_MAY_CHANGE) unless `contentFinal`.
    mutating func contentSample(_ fetch: ContentFetch, valueIndex: Int) -> SampleValue {
        // In mode http a parsed request is HTTP by definition.
        if case .protoHTTP = fetch, kind != .connection { return .boolean(true) }
        guard let data = input.content else { return .none }
        switch fetch {
        case .length:
            undecided()
            return .integer(Int64(data.count))
        case .payload(let offset, let length):
            // Past what a buffer holds: it never comes, so nothing to wait for.
            guard offset + length <= scratch.capacity else { return .none }
            guard offset + length <= data.count else { return undecided() }
            if length == 0 { undecided() }
            return .bytes(data.slice(offset, length == 0 ? data.count : offset + length))
        case .payloadLV(let offset, let size, let dataOffset, let relative):
            guard offset + size <= data.count else { return undecided() }
            var length = 0
            for i in offset..<(offset + size) { length = length << 8 | Int(data[i]) }
            var start = offset + size
            if let dataOffset { start = relative ? start + dataOffset : dataOffset }
            guard length > 0, start >= 0, start + length <= scratch.capacity else { return .none }
            guard start + length <= data.count else { return undecided() }
            return .bytes(data.slice(start, start + length))
        case .sslHelloType:
            return integer(TLSClientHello.handshakeType(data))
        case .sslVersion:
            return integer(TLSClientHello.version(data))
        case .sslSNI, .sslALPN, .sslSessionTicket, .sslEllipticCurves:
            let info: ClientHelloInfo
            switch TLSClientHello.parse(data) {
            case .found(let parsed): info = parsed
            case .needMore: return undecided()
            case .absent: return .none
            }
            switch fetch {
            case .sslSNI:
                return info.serverName.map { .bytes(data.slice($0.lowerBound, $0.upperBound)) } ?? .none
            case .sslALPN:
                guard let list = info.alpn,
                      let name = TLSClientHello.alpnProtocol(data, list: list, index: valueIndex) else { return .none }
                return .bytes(data.slice(name.lowerBound, name.upperBound))
            case .sslSessionTicket:
                return .integer(Int64(info.sessionTicket))
            default:
                return .boolean(info.ellipticCurves)
            }
        case .waitEnd:
            return input.contentFinal ? .boolean(true) : undecided()
        case .protoHTTP:
            switch HTTPParser.startsWithRequest(data, limits: HTTPLimits(maxHeadBytes: .max)) {
            case true?: return .boolean(true)
            case false?: return .none
            case nil: return undecided()
            }
        case .rdpCookie(let name):
            switch RDPCookie.find(data, name: name) {
            case .found(let value): return .bytes(data.slice(value.lowerBound, value.upperBound))
            case .needMore: return undecided()
            case .absent: return .none
            }
        case .rdpCookieCount(let name):
            // A count is always known: 0 until a cookie is found, as in HAProxy.
            switch RDPCookie.find(data, name: name) {
            case .found: return .integer(1)
            case .needMore:
                undecided()
                return .integer(0)
            case .absent: return .integer(0)
            }
        }
    }

    /// Marks the evaluation undecided unless no more bytes will come; `.none` for convenience.
    @discardableResult
    private mutating func undecided() -> SampleValue {
        if !input.contentFinal { input.contentUndecided = true }
        return .none
    }

    private mutating func integer(_ peek: ClientHelloPeek<Int>) -> SampleValue {
        switch peek {
        case .found(let n): return .integer(Int64(n))
        case .needMore: return undecided()
        case .absent: return .none
        }
    }

    // MARK: - Rules

    /// `tcp-request content accept|reject` over buffered content, in
    /// HAProxy's order: the first rule whose condition holds decides, none
    /// accepts; a condition that cannot be told yet stops there and waits.
    /// With `input.contentFinal`, it never waits.
    mutating func contentVerdict(_ rules: [CompiledTCPRule]) -> ContentVerdict {
        for rule in rules {
            scratch.reset()
            switch decide(rule.condition) {
            case true?:
                if let stick = rule.stick {
                    stickAction(stick)
                    continue
                }
                switch rule.verdict {
                case .accept: return .accept
                case .reject: return .reject
                case .silentDrop: return .silentDrop
                }
            case false?: continue
            case nil: return .wait
            }
        }
        return .accept
    }

    /// `condition` with HAProxy's three values: an ACL that did not match
    /// but whose sample may still change is a miss; terms are ANDed and
    /// groups ORed over pass, miss and fail. nil: a miss.
    private mutating func decide(_ condition: CompiledCondition) -> Bool? {
        if let constant = condition.constant { return constant }
        var result = Tristate.fail
        for group in condition.alternatives {
            var all = Tristate.pass
            for term in group {
                var any = Tristate.fail
                for acl in term.acls {
                    input.contentUndecided = false
                    if matches(acl) {
                        any = .pass
                        break
                    }
                    if input.contentUndecided { any = .miss }
                }
                all = all & (term.negated ? any.negated : any)
                if all == .fail { break }
            }
            result = result | all
            if result == .pass { break }
        }
        input.contentUndecided = false
        if result == .miss { return nil }
        return (result == .pass) != condition.negated
    }
}

/// A `%[…]` over the request's contents in a mode tcp log line, and the
/// hidden session variable its value is kept in.
struct ContentSnapshot {
    let sample: CompiledSample
    let variable: VariableSlot
}

extension RuleCompiler {
    /// A mode tcp session is logged when it ends, long after the inspected
    /// bytes were forwarded: each `%[…]` over them becomes a read of a
    /// session variable, set when the content rules decide.
    mutating func snapshotContentSamples(_ format: CompiledLogFormat) -> (CompiledLogFormat, [ContentSnapshot]) {
        var snapshots: [ContentSnapshot] = []
        let nodes = format.nodes.map { node -> CompiledLogNode in
            guard case .sample(let sample, let options) = node, case .content = sample.fetch else { return node }
            // Not a name a configuration can write (`set-var` names are checked).
            let variable = variable(.sess, "\u{1}content.\(snapshots.count)")
            snapshots.append(ContentSnapshot(sample: sample, variable: variable))
            return .sample(CompiledSample(fetch: .variable(variable), converters: []), options)
        }
        return (CompiledLogFormat(nodes: nodes), snapshots)
    }
}
