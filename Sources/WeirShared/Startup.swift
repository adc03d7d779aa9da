/// A listening socket handed to the worker: bound by the worker itself in
/// `-d` mode, or received from the master.
public struct BoundListener: Sendable {
    public var fd: Int32
    /// Index into `Configuration.frontends`.
    public var frontend: Int
    /// Index into the frontend's `binds`.
    public var bind: Int
    /// The address as configured and as bound (port 0 resolved).
    public var name: String

    public init(fd: Int32, frontend: Int, bind: Int = 0, name: String) {
        self.fd = fd
        self.frontend = frontend
        self.bind = bind
        self.name = name
    }
}

/// Why a worker or the master could not start; the message is printed as is.
public struct StartupError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
