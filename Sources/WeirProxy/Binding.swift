import Glibc
import WeirConfig
import WeirSystem

/// Opens every listener a configuration asks for. In `-d` mode the worker
/// calls this itself; later the master does and hands the sockets over.
public enum ListenerBinding {
    /// Binds all `bind` addresses (adopting `fd@N` ones); on any failure,
    /// closes what was opened and throws one error naming the address.
    public static func bindAll(_ configuration: Configuration, reusePort: Bool) throws(StartupError) -> [BoundListener] {
        var bound: [BoundListener] = []
        do {
            for (index, frontend) in configuration.frontends.enumerated() {
                for bind in frontend.binds {
                    let socket: FileDescriptor
                    switch bind.address {
                    case .ip(let ip, let port):
                        socket = try Listening.open(SocketAddress(ip: ip.bytes, port: port), reusePort: reusePort)
                    case .unix(let path):
                        guard let address = SocketAddress(unixPath: path) else {
                            throw StartupError("\(bind.location): UNIX socket path too long: \(path)")
                        }
                        socket = try Listening.open(address, reusePort: false)
                    case .inheritedFD(let fd):
                        socket = try Listening.adopt(fd)
                    }
                    let fd = socket.release()
                    let local = (try? Posix.localAddress(fd))?.description ?? bind.address.description
                    bound.append(BoundListener(fd: fd, frontend: index, name: local))
                }
            }
        } catch let error as Listening.Failure {
            bound.forEach { Posix.close($0.fd) }
            throw StartupError("Starting proxy: \(error)")
        } catch let error as StartupError {
            bound.forEach { Posix.close($0.fd) }
            throw error
        } catch {
            bound.forEach { Posix.close($0.fd) }
            throw StartupError("\(error)")
        }
        return bound
    }
}
