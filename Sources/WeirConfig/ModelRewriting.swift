// Walks over every sample of the model, so names that are only known once
// every section is read (backends in `nbsrv`, user lists in `http_auth`) can
// be replaced by their indices.

extension Sample {
    mutating func rewriteFetches(_ f: (inout Fetch) -> Void) {
        f(&fetch)
    }
}

extension Condition {
    mutating func rewriteFetches(_ f: (inout Fetch) -> Void) {
        for a in alternatives.indices {
            for t in alternatives[a].indices {
                for i in alternatives[a][t].acls.indices { alternatives[a][t].acls[i].sample.rewriteFetches(f) }
            }
        }
    }
}

extension LogFormat {
    mutating func rewriteFetches(_ f: (inout Fetch) -> Void) {
        for i in nodes.indices {
            if case .sample(var s, let options) = nodes[i] {
                s.rewriteFetches(f)
                nodes[i] = .sample(s, options)
            }
        }
    }
}

extension ReturnSpec {
    mutating func rewriteFetches(_ f: (inout Fetch) -> Void) {
        if case .logFormat(var format) = body {
            format.rewriteFetches(f)
            body = .logFormat(format)
        }
        for i in headers.indices { headers[i].value.rewriteFetches(f) }
    }
}

extension HTTPAction {
    mutating func rewriteFetches(_ f: (inout Fetch) -> Void) {
        switch self {
        case .deny(let status, var answer?):
            answer.rewriteFetches(f)
            self = .deny(status: status, answer: answer)
        case .tarpit(let status, var answer?):
            answer.rewriteFetches(f)
            self = .tarpit(status: status, answer: answer)
        case .setTimeout(let tunnel, .expression(var sample)):
            sample.rewriteFetches(f)
            self = .setTimeout(tunnel: tunnel, .expression(sample))
        case .allow, .reject, .silentDrop, .setTimeout, .deny, .tarpit, .auth, .delHeader, .unsetVar, .setLogLevel, .setStatus, .useService,
             .disableL7Retry, .stickCounter:
            break
        case .redirect(var r):
            r.value.rewriteFetches(f)
            self = .redirect(r)
        case .returnResponse(var spec):
            spec.rewriteFetches(f)
            self = .returnResponse(spec)
        case .setHeader(let name, var value):
            value.rewriteFetches(f)
            self = .setHeader(name: name, value: value)
        case .addHeader(let name, var value):
            value.rewriteFetches(f)
            self = .addHeader(name: name, value: value)
        case .replaceHeader(let name, let regex, var replacement):
            replacement.rewriteFetches(f)
            self = .replaceHeader(name: name, regex: regex, replacement: replacement)
        case .replaceValue(let name, let regex, var replacement):
            replacement.rewriteFetches(f)
            self = .replaceValue(name: name, regex: regex, replacement: replacement)
        case .setPath(var v):
            v.rewriteFetches(f)
            self = .setPath(v)
        case .setPathQuery(var v):
            v.rewriteFetches(f)
            self = .setPathQuery(v)
        case .setQuery(var v):
            v.rewriteFetches(f)
            self = .setQuery(v)
        case .setURI(var v):
            v.rewriteFetches(f)
            self = .setURI(v)
        case .setMethod(var v):
            v.rewriteFetches(f)
            self = .setMethod(v)
        case .replaceTarget(let part, let regex, var replacement):
            replacement.rewriteFetches(f)
            self = .replaceTarget(part: part, regex: regex, replacement: replacement)
        case .setVarFormat(let scope, let name, var format):
            format.rewriteFetches(f)
            self = .setVarFormat(scope: scope, name: name, format: format)
        case .setVar(let scope, let name, var sample):
            sample.rewriteFetches(f)
            self = .setVar(scope: scope, name: name, sample: sample)
        case .capture(var sample, let length):
            sample.rewriteFetches(f)
            self = .capture(sample: sample, length: length)
        }
    }
}

extension [HTTPRule] {
    mutating func rewriteFetches(_ f: (inout Fetch) -> Void) {
        for i in indices {
            self[i].action.rewriteFetches(f)
            self[i].condition.rewriteFetches(f)
        }
    }
}

extension [TCPRule] {
    mutating func rewriteFetches(_ f: (inout Fetch) -> Void) {
        for i in indices { self[i].condition.rewriteFetches(f) }
    }
}

extension [Int: ErrorPage] {
    mutating func rewriteFetches(_ f: (inout Fetch) -> Void) {
        for key in keys {
            if case .response(var spec) = self[key]! {
                spec.rewriteFetches(f)
                self[key] = .response(spec)
            }
        }
    }
}

extension Frontend {
    mutating func rewriteFetches(_ f: (inout Fetch) -> Void) {
        for i in useBackends.indices {
            useBackends[i].condition.rewriteFetches(f)
            useBackends[i].dynamicName?.rewriteFetches(f)
        }
        httpRequestRules.rewriteFetches(f)
        httpResponseRules.rewriteFetches(f)
        httpAfterResponseRules.rewriteFetches(f)
        redirectRules.rewriteFetches(f)
        tcpRequestConnectionRules.rewriteFetches(f)
        tcpRequestContentRules.rewriteFetches(f)
        logFormat?.rewriteFetches(f)
        uniqueIDFormat?.rewriteFetches(f)
        errorPages.rewriteFetches(f)
        statsPage?.admin?.rewriteFetches(f)
        for i in monitorFail.indices { monitorFail[i].rewriteFetches(f) }
    }
}

extension Backend {
    mutating func rewriteFetches(_ f: (inout Fetch) -> Void) {
        httpRequestRules.rewriteFetches(f)
        httpResponseRules.rewriteFetches(f)
        httpAfterResponseRules.rewriteFetches(f)
        redirectRules.rewriteFetches(f)
        tcpRequestContentRules.rewriteFetches(f)
        errorPages.rewriteFetches(f)
        statsPage?.admin?.rewriteFetches(f)
        for i in persistRules.indices { persistRules[i].condition.rewriteFetches(f) }
        for i in serverRules.indices { serverRules[i].condition.rewriteFetches(f) }
        for i in stickRules.indices {
            stickRules[i].condition.rewriteFetches(f)
            stickRules[i].sample.rewriteFetches(f)
        }
        if case .hash(var sample) = balance {
            sample.rewriteFetches(f)
            balance = .hash(sample)
        }
    }
}
