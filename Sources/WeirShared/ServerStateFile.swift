import WeirConfig

/// A server-state file: what `show servers state` printed, saved by the
/// operator before a reload or restart (`server-state-file`,
/// `load-server-state-from-file`). A new generation applies it to its
/// servers, matched by backend and server name, before its workers start.
public enum ServerStateFile {
    /// One server's line of version 1 of the format.
    public struct Entry: Sendable, Hashable {
        public var backend: String
        public var server: String
        /// `srv_op_state`: 0 stopped, 1 starting, 2 running, 3 stopping.
        public var operational: Int
        /// `srv_admin_state`: HAProxy's `SRV_ADMF_*` bits.
        public var admin: Int
        public var userWeight: Int
        public var initialWeight: Int
        public var sinceLastChange: Int
    }

    /// HAProxy's admin bits: forced maintenance, maintenance from the
    /// configuration (`disabled`), forced drain.
    static let forcedMaint = 0x01
    static let configMaint = 0x04
    static let forcedDrain = 0x08

    /// The entries of a file; a file of another version, or a line that
    /// does not parse, is a problem reported with its line number.
    public static func parse(_ text: String, file: String) -> (entries: [Entry], problems: [String]) {
        var entries: [Entry] = []
        var problems: [String] = []
        var versionSeen = false
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingBlanks
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard versionSeen else {
                guard line == "1" else { return ([], ["\(file):\(n + 1): unsupported server state version '\(line)'"]) }
                versionSeen = true
                continue
            }
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard fields.count >= 10, let operational = Int(fields[5]), let admin = Int(fields[6]),
                  let userWeight = Int(fields[7]), let initialWeight = Int(fields[8]), let since = Int(fields[9]) else {
                problems.append("\(file):\(n + 1): cannot parse this server state line")
                continue
            }
            entries.append(Entry(backend: fields[1], server: fields[3], operational: operational, admin: admin,
                                 userWeight: userWeight, initialWeight: initialWeight, sinceLastChange: since))
        }
        return (entries, problems)
    }

    /// Applies the state files of `configuration`'s backends to `segment`
    /// (a new generation's, after it took over the running one's states):
    /// for each server found in its backend's file, the admin state, the
    /// weight (if the configured weight did not change), the time of the
    /// last change, and for a server without a check its operational state.
    /// `read` gives a file's text (nil if it cannot be read). Returns the
    /// warnings to print.
    public static func apply(configuration: Configuration, to segment: SharedSegment, now: Int,
                             read: (String) -> String?) -> [String] {
        var warnings: [String] = []
        var files: [String: [String: [String: Entry]]] = [:]
        for (b, backend) in configuration.backends.enumerated() {
            guard let path = backend.serverStateFile else { continue }
            if files[path] == nil {
                var byBackend: [String: [String: Entry]] = [:]
                if let text = read(path) {
                    let (entries, problems) = parse(text, file: path)
                    warnings += problems
                    for entry in entries { byBackend[entry.backend, default: [:]][entry.server] = entry }
                } else {
                    warnings.append("cannot read server state file '\(path)': the servers keep their configured state")
                }
                files[path] = byBackend
            }
            guard let saved = files[path]?[backend.name] else { continue }
            for (s, server) in backend.servers.enumerated() {
                guard let entry = saved[server.name] else { continue }
                apply(entry, server: server, entity: segment.layout.server(backend: b, s), segment: segment, now: now)
            }
        }
        return warnings
    }

    /// A file's text, nil when it cannot be read.
    public static func read(_ path: String) -> String? {
        (try? ConfigLoader.readFile(path)).map { String(decoding: $0, as: UTF8.self) }
    }

    static func apply(_ entry: Entry, server: Server, entity: Int, segment: SharedSegment, now: Int) {
        // As HAProxy: when `disabled` was added or removed in the
        // configuration since the file was saved, the configuration decides;
        // otherwise the forced maintenance saved applies. Drain applies to a
        // server not in maintenance.
        var admin: AdminState = server.disabled ? .configMaint : []
        if (entry.admin & configMaint != 0) == server.disabled && entry.admin & forcedMaint != 0 && !server.disabled {
            admin.insert(.maint)
        }
        if !admin.inMaintenance && entry.admin & forcedDrain != 0 { admin.insert(.drain) }
        segment.store(.admin, admin.rawValue, entity)
        if entry.initialWeight == server.weight { segment.store(.weight, min(max(entry.userWeight, 0), 256), entity) }
        // A checked server's checks decide its health; one without a check
        // keeps the health forced on it (`set server … health down`).
        if !server.check.enabled {
            segment.store(.health, entry.operational == 0 ? HealthSlot.down.rawValue : HealthSlot.noCheck.rawValue, entity)
        }
        segment.store(.lastChange, now - max(0, entry.sinceLastChange), entity)
        segment.bumpStateVersion()
    }
}

extension Substring {
    var trimmingBlanks: Substring {
        var s = self
        while let first = s.first, first == " " || first == "\t" || first == "\r" { s = s.dropFirst() }
        while let last = s.last, last == " " || last == "\t" || last == "\r" { s = s.dropLast() }
        return s
    }
}
