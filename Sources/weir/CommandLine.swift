/// Weir's command line, HAProxy's flags. Parsed by hand: HAProxy mixes
/// single-dash long flags (`-vv`, `-db`, `-dW`) that argument parsers
/// do not express well.
struct Options {
    var configPaths: [String] = []
    var checkOnly = false
    var debug = false
    /// `-db`: foreground; without -W/-Ws, one process without master (as HAProxy).
    var foreground = false
    /// No master: `-d`, or `-db` without `-W`/`-Ws`.
    var singleProcess = false
    var quiet = false
    var showVersion = false
    var showBuildDetails = false
    var pidfile: String?
    var warningsFatal = false
    /// `-W`/`-Ws` (and the default without `-d`): master and workers.
    var masterWorker = false
    var systemd = false
    /// `-D`: go to the background once serving, as the `daemon` keyword.
    var daemon = false
    /// `-S`: the master CLI socket.
    var masterSocket: String?
    /// `-sf`/`-st`: old processes to finish or terminate once we serve.
    var finishPIDs: [Int32] = []
    var terminatePIDs: [Int32] = []

    struct UsageError: Error {
        var message: String
    }

    static let usage = """
        Usage: weir [-f <cfgfile|cfgdir>]* [ -vdDVc ] [ -p <pidfile> ] [ -L <name> ] [ -q ]
                    [ -W | -Ws ] [ -S <socket> ] [ -sf <pid>* | -st <pid>* ]
               weir cli <socket> <command>
                -v displays version ; -vv shows known build options.
                -d enters debug mode: one process in the foreground, no master.
                -D goes to the background once serving (as 'daemon'; not with -d, -db or -Ws).
                -db stays in the foreground: one process without master unless -W/-Ws.
                -W master-worker mode (the default without -d) ; -Ws adds systemd notifications.
                -S <socket> binds the master CLI to a UNIX socket path or fd@N.
                -sf/-st <pid>* tell these processes to finish (SIGUSR1) or stop (SIGTERM) once started.
                -dM, -dI are accepted for compatibility ; -dW makes warnings fatal.
                -c checks the configuration and exits (0 if valid, 1 if not).
                -p writes the process id to <pidfile>.
                -L sets the local peer name (accepted, unused).
                -q quiet mode: don't display messages.
        """

    static func parse(_ arguments: [String]) throws(UsageError) -> Options {
        var options = Options()
        var index = 0
        func value(for flag: String) throws(UsageError) -> String {
            index += 1
            guard index < arguments.count else { throw UsageError(message: "option '\(flag)' needs an argument") }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "-f": options.configPaths.append(try value(for: argument))
            case "-c": options.checkOnly = true
            case "-d": options.debug = true
            case "-D": options.daemon = true
            case "-db": options.foreground = true
            case "-q": options.quiet = true
            case "-v": options.showVersion = true
            case "-vv": options.showBuildDetails = true
            case "-p": options.pidfile = try value(for: argument)
            case "-L": _ = try value(for: argument)
            case "-dW": options.warningsFatal = true
            case "-W": options.masterWorker = true
            case "-Ws":
                options.masterWorker = true
                options.systemd = true
            case "-S": options.masterSocket = try value(for: argument)
            case "-sf", "-st":
                var pids: [Int32] = []
                while index + 1 < arguments.count, let pid = Int32(arguments[index + 1]) {
                    pids.append(pid)
                    index += 1
                }
                if argument == "-sf" { options.finishPIDs += pids } else { options.terminatePIDs += pids }
            case "-dI": break
            default:
                // -dM takes an optional pattern glued to it (-dM0x55), as in HAProxy.
                if argument.hasPrefix("-dM") { break }
                if argument.hasPrefix("-f"), argument.count > 2 {
                    options.configPaths.append(String(argument.dropFirst(2)))
                    break
                }
                throw UsageError(message: "unknown option '\(argument)'")
            }
            index += 1
        }
        if options.foreground && !options.masterWorker { options.singleProcess = true }
        if options.debug { options.singleProcess = true }
        if options.configPaths.isEmpty && !options.showVersion && !options.showBuildDetails {
            throw UsageError(message: "no configuration file given (use -f)")
        }
        return options
    }
}
