import Testing
@testable import WeirConfig

/// `server-state-file`, `server-state-base`, `load-server-state-from-file`, `server-state-file-name`.
@Suite struct ServerStateConfigTests {
    func backends(_ global: String, _ rest: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [Backend] {
        config("global\n" + global + "\n" + timeoutDefaults + rest, sourceLocation: sourceLocation)?.backends ?? []
    }

    @Test func globalFileGoesToEveryBackendThatLoadsIt() {
        let b = backends("    server-state-file /var/lib/weir/state", """
            defaults
                load-server-state-from-file global
            backend a
                server s 127.0.0.1:1
            backend b
                load-server-state-from-file none
                server s 127.0.0.1:1

            """)
        #expect(b.map(\.serverStateFile) == ["/var/lib/weir/state", nil])
    }

    @Test func relativeNamesAreUnderTheBase() {
        let b = backends("    server-state-base /run/weir/\n    server-state-file state", """
            backend a
                load-server-state-from-file global
            backend b
                load-server-state-from-file local
            backend c
                load-server-state-from-file local
                server-state-file-name c.state
            backend d
                load-server-state-from-file local
                server-state-file-name /abs/d
            backend e
                load-server-state-from-file local
                server-state-file-name use-backend-name
            backend f

            """)
        #expect(b.map(\.serverStateFile) == ["/run/weir/state", "/run/weir/b", "/run/weir/c.state", "/abs/d", "/run/weir/e", nil])
    }

    @Test func mistakesAreReportedWhereTheyAre() {
        #expect(errors(timeoutDefaults + "backend a\n    load-server-state-from-file glob\n")
            == ["t.cfg:6:33: error: load-server-state-from-file: expected global, local or none, got 'glob' (did you mean 'global'?)"])
        #expect(errors(timeoutDefaults + "frontend f\n    load-server-state-from-file global\n    bind :80\n")
            == ["t.cfg:6:5: error: 'load-server-state-from-file' is not allowed in a 'frontend' section"])
        #expect(warnings(timeoutDefaults + "backend a\n    load-server-state-from-file global\n    server s 127.0.0.1:1\n")
            == ["t.cfg:6:33: warning: load-server-state-from-file global: no 'server-state-file' in the global section, "
                + "no state is loaded"])
    }
}
