import COpenSSL
import Glibc
import WeirConfig
import WeirMaster
import WeirProxy
import WeirShared
import WeirSystem
import WeirTLS

let version = ConfigParser.version

func fail(_ message: String) -> Never {
    Posix.writeAll(Notice.descriptor, message + "\n")
    exit(1)
}

func buildDetails() -> String {
    var swiftVersion = "6"
    #if swift(>=6.3)
    swiftVersion = "6.3"
    #elseif swift(>=6.2)
    swiftVersion = "6.2"
    #endif
    let running = String(cString: OpenSSL_version(Int32(OPENSSL_VERSION)))
    return """
        Weir version \(version)
        Build options:
          Swift: \(swiftVersion), runtime linked \(isStaticBuild() ? "statically" : "dynamically")
          Built with OpenSSL version : \(OPENSSL_VERSION_TEXT)
          Running on OpenSSL version : \(running)
          Event loop: epoll, one thread per worker process
        """
}

/// Whether the Swift runtime is linked into the binary (`--static-swift-stdlib`)
/// rather than loaded from the toolchain: no libswiftCore.so mapped.
func isStaticBuild() -> Bool {
    let fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var maps: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n <= 0 { break }
        maps += chunk[0..<n]
    }
    return !String(decoding: maps, as: UTF8.self).contains("libswiftCore.so")
}

let arguments = Array(CommandLine.arguments.dropFirst())

// Internal and auxiliary modes first: a worker started by the master, and the
// master CLI client used by the systemd unit's ExecReload.
if arguments.first == "--worker" {
    exit(WorkerMode.run())
}
if arguments.first == "cli" {
    guard arguments.count >= 3 else {
        Posix.writeAll(2, "usage: weir cli <socket> <command>\n")
        exit(2)
    }
    exit(MasterCLIClient.run(socket: arguments[1], command: arguments[2...].joined(separator: " ")))
}

let options: Options
do {
    options = try Options.parse(arguments)
} catch {
    fail("weir: \(error.message)\n\(Options.usage)")
}

func masterOptions(_ options: Options, quiet: Bool = false, readinessFD: Int32 = -1) -> MasterOptions {
    var master = MasterOptions(configPaths: options.configPaths, arguments: CommandLine.arguments,
                               cliAddress: options.masterSocket, quiet: options.quiet || quiet,
                               finishPIDs: options.finishPIDs, terminatePIDs: options.terminatePIDs, version: version)
    master.readinessFD = readinessFD
    return master
}

// A master re-executed by a reload takes over from its previous image.
if let state = ReexecState.takeFromEnvironment() {
    exit(Master.resume(options: masterOptions(options), state: state))
}

if options.showBuildDetails {
    print(buildDetails())
    exit(0)
}
if options.showVersion {
    print("Weir version \(version)")
    exit(0)
}

let files: [ConfigFile]
do {
    files = try ConfigLoader.load(paths: options.configPaths)
} catch {
    fail("[ALERT]    (\(getpid())) : \(error)")
}

var result = ConfigParser.parse(files, environment: Processes.environmentVariables())
// Certificates and keys are read now, so a bad one fails `-c`, the start and a reload alike.
if let parsed = result.configuration, !result.hasErrors { result.diagnostics += TLSSetup.check(parsed) }
// `quiet` and `zero-warning` in the global section act as -q and -dW.
let quiet = options.quiet || result.configuration?.global.quiet == true
for diagnostic in result.diagnostics where !(quiet && diagnostic.severity != .error && diagnostic.severity != .alert) {
    Posix.writeAll(2, diagnostic.rendered() + "\n")
}
let warnings = result.diagnostics.filter { $0.severity == .warning }.count
guard let configuration = result.configuration, !result.hasErrors else {
    let errors = result.diagnostics.filter { $0.severity == .error || $0.severity == .alert }.count
    fail("Fatal errors found in configuration (\(errors) error\(errors == 1 ? "" : "s")).")
}
if warnings > 0 && (options.warningsFatal || configuration.global.zeroWarning) {
    fail("Some warnings were found and \(options.warningsFatal ? "-dW" : "'zero-warning'") makes them fatal.")
}
if options.checkOnly {
    if !quiet { print("Configuration file is valid") }
    exit(0)
}

// `daemon` or -D: the master goes to the background, and the command returns
// once it serves. Not with -d, -db or -Ws (systemd supervises it), as in HAProxy.
let readinessFD = (options.daemon || configuration.global.daemon) && !options.singleProcess && !options.foreground
    && !options.systemd ? Daemon.detach() : -1

if let pidfile = options.pidfile ?? configuration.global.pidfile {
    let fd = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { fail("[ALERT]    (\(getpid())) : cannot write pidfile \(pidfile): \(Errno.current)") }
    Posix.writeAll(fd, "\(getpid())\n")
    close(fd)
}

// Descriptors: `ulimit-n`, or two per connection of an explicit maxconn, as HAProxy computes it.
let binds = configuration.frontends.reduce(0) { $0 + $1.binds.count }
if let needed = configuration.global.fileLimit
    ?? (configuration.global.maxconn > 0 ? 2 * configuration.global.maxconn + binds + 64 : nil) {
    do { try Posix.ensureFileLimit(needed) } catch {
        // `no strict-limits`: run with the limit there is, as HAProxy does.
        if configuration.global.strictLimits { fail("[ALERT]    (\(getpid())) : \(error)") }
        Notice.warning("\(error)")
    }
}

if !options.singleProcess {
    let messages = result.diagnostics.map { $0.rendered() }
    exit(Master.start(options: masterOptions(options, quiet: quiet, readinessFD: readinessFD),
                      configuration: configuration, files: files,
                      messages: messages))
}

// -d or -db: one foreground process that binds and serves by itself.
let listeners: [BoundListener]
do {
    listeners = try ListenerBinding.bindAll(configuration)
} catch {
    fail("[ALERT]    (\(getpid())) : \(error)")
}
if let cpus = configuration.global.cpus(forWorker: 1) {
    do { try Posix.setAffinity(0, cpus: cpus) } catch {
        Notice.warning("cpu-map: cannot bind to CPU(s) \(cpus.map(String.init).joined(separator: ",")): \(error)")
    }
}
if !quiet {
    for listener in listeners {
        Notice.notice("Proxy \(configuration.frontends[listener.frontend].name) listening on \(listener.name)")
    }
}

/// Builds the worker and runs it to the end; a function because a global
/// cannot hold the non-copyable worker.
func serve(_ configuration: Configuration, _ listeners: [BoundListener], _ options: Options, quiet: Bool) -> Int32 {
    do {
        let global = configuration.global
        let privileges = try Privileges.resolve(user: global.user, group: global.group, uid: global.uid, gid: global.gid,
                                                     chroot: global.chroot)
        var statsSockets: [StatsSocketListener] = []
        for socket in configuration.global.statsSockets { statsSockets.append(try StatsSocketListener.bind(socket)) }
        let worker = try Worker(configuration: configuration, listeners: listeners,
                                options: WorkerOptions(debug: options.debug, quiet: quiet,
                                                       statsSockets: statsSockets))
        try privileges.apply()
        if global.setDumpable { Posix.enableCoreDumps() }
        return worker.run()
    } catch {
        fail("[ALERT]    (\(getpid())) : \(error)")
    }
}
exit(serve(configuration, listeners, options, quiet: quiet))
