import WeirLoop
import WeirShared

// DNS resolution in master-worker mode: the master runs the client once,
// in its own event loop, for the current generation; the workers read the
// addresses it sets in that generation's shared memory.
extension Master {
    mutating func startResolution(loop: inout EventLoop) {
        stopResolution(loop: &loop)
        guard let segment = generations[current]?.segment else { return }
        resolver = DNSClient(configuration: configuration, segment: segment, tokenKind: MasterToken.dns.rawValue, loop: &loop)
        resolverGeneration = current
    }

    mutating func stopResolution(loop: inout EventLoop) {
        resolver?.stop(loop: &loop)
        resolver = nil
    }

    mutating func resolutionEvent(_ token: Token, loop: inout EventLoop) {
        guard let changes = resolver?.handleEvent(token, loop: &loop) else { return }
        follow(changes, loop: &loop)
    }

    mutating func resolutionTimer(_ token: Token, deadline: Int64, loop: inout EventLoop) {
        guard let changes = resolver?.handleTimer(token, deadline: deadline, loop: &loop) else { return }
        follow(changes, loop: &loop)
    }

    /// The checks follow the servers' new addresses.
    private mutating func follow(_ changes: [DNSClient.AddressChange], loop: inout EventLoop) {
        guard checksGeneration == resolverGeneration else { return }
        for change in changes {
            checker?.follow(backend: change.backend, server: change.server, address: change.address, loop: &loop)
        }
    }
}
