import WeirBalance
import WeirConfig
import WeirShared

// `use-server NAME if|unless COND`: once the request's rules have put it in
// a backend, the first rule whose condition holds names its server, as in
// HAProxy's `process_server_rules`. A cookie naming a server still wins
// (it is read first); the rule's server wins over stick tables and the
// balancer. A server that is down or in maintenance is skipped, and the
// next rule tried, unless `option persist` or a `force-persist` rule lets
// the request through anyway.

/// One `use-server` line, compiled with the backend's other conditions.
struct CompiledServerRule {
    let server: Int
    let condition: CompiledCondition
}

extension RuleCompiler {
    /// Each backend's `use-server` lines, in order.
    mutating func serverRules(_ backends: [Backend]) throws(StartupError) -> [[CompiledServerRule]] {
        var all: [[CompiledServerRule]] = []
        for backend in backends {
            var rules: [CompiledServerRule] = []
            for rule in backend.serverRules {
                rules.append(CompiledServerRule(server: rule.server, condition: try condition(rule.condition)))
            }
            all.append(rules)
        }
        return all
    }
}

extension Worker {
    /// After the request's rules chose `backend` (the rules engine holds the
    /// request, or the connection in mode tcp): runs its `use-server` rules.
    /// A backend without them costs a test of its plan's flag.
    @inline(__always)
    mutating func analyseServerRules(_ slot: UInt32, backend: Int) {
        guard rules.plan.backends[backend].hasServerRules else { return }
        runServerRules(slot, backend: backend)
    }

    private mutating func runServerRules(_ slot: UInt32, backend: Int) {
        sessions.pointer(slot).pointee.ruleServer = -1
        refreshServerStates()
        var persists: Bool?
        for rule in rules.compiled.serverRules[backend] where rules.evaluate(rule.condition) {
            let usable = backends[backend].balancer.servers[rule.server].isUsable
            if !usable {
                if persists == nil { persists = backends[backend].persist || forcePersists(slot, backend: backend) }
                guard persists == true else { continue }
            }
            sessions.pointer(slot).pointee.ruleServer = Int32(rule.server)
            return
        }
    }

    /// Whether a `force-persist` rule holds (and no `ignore-persist` before
    /// it): with a cookie the cookie's analysis has already decided.
    private mutating func forcePersists(_ slot: UInt32, backend: Int) -> Bool {
        if backends[backend].hasCookie { return sessions.pointer(slot).pointee.exchange.cookie.force }
        for rule in rules.compiled.persistRules[backend] where rules.evaluate(rule.condition) {
            return rule.force
        }
        return false
    }

    /// Called by `assignServer` after cookie persistence and before stick
    /// tables: the server a `use-server` rule picked (`boundPick`); else, with `option
    /// prefer-last-server` and no stick table naming a server, the server
    /// whose connection the session still holds; nil otherwise. A retry
    /// that must avoid the server it tried (`excluding`) balances instead.
    @inline(__always)
    mutating func serverRulePick(_ slot: UInt32, backend: Int, excluding: Int?) -> PickResult? {
        guard rules.plan.backends[backend].picksBeforeBalancing else { return nil }
        return pickBeforeBalancing(slot, backend: backend, excluding: excluding)
    }

    private mutating func pickBeforeBalancing(_ slot: UInt32, backend: Int, excluding: Int?) -> PickResult? {
        let s = sessions.pointer(slot)
        let server = Int(s.pointee.ruleServer)
        if excluding != nil {
            s.pointee.ruleServer = -1
            return nil
        }
        if server >= 0 { return boundPick(slot, backend: backend, server: server) }
        guard backends[backend].preferLastServer, s.pointee.stick.server < 0,
              s.pointee.connectionBackend == Int32(backend), s.pointee.connectionServer >= 0 else { return nil }
        let last = Int(s.pointee.connectionServer)
        let state = backends[backend].balancer.servers[last]
        return state.isUsable && !state.isFull ? .server(last) : nil
    }
}
