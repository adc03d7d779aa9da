import WeirConfig
import WeirSystem

/// The address a server starts with, as `init-addr` orders the methods:
/// `last` (a state file: none yet, skipped), `libc` (the system resolver),
/// a fixed IP, or `none` (start without one: the server stays unusable).
/// Shared by the worker (traffic) and the checker (checks) so both agree.
public enum InitialAddress {
    public enum Outcome: Sendable {
        case address(SocketAddress)
        /// `init-addr … none`: no address, the server takes no traffic.
        case unresolved(reason: String)
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public static func resolve(_ server: Server) throws(Failure) -> Outcome {
        switch server.address {
        case .ip(let ip, let port):
            return .address(SocketAddress(ip: ip.bytes, port: port))
        case .unix(let path):
            guard let unix = SocketAddress(unixPath: path) else { throw Failure(description: "path too long") }
            return .address(unix)
        case .host(let host, let port):
            // SRV records come from the resolvers alone: the server waits for them.
            if server.address.isServiceName { return .unresolved(reason: "waiting for its DNS SRV records") }
            var lastError = "no init-addr method gave an address"
            for method in server.check.initAddr {
                switch method {
                case .last:
                    continue
                case .libc:
                    do { return .address(try SocketAddress.resolve(host: host, port: port)) } catch {
                        lastError = "\(error)"
                    }
                case .ip(let ip):
                    return .address(SocketAddress(ip: ip.bytes, port: port))
                case .none:
                    return .unresolved(reason: lastError)
                }
            }
            throw Failure(description: lastError)
        }
    }
}
