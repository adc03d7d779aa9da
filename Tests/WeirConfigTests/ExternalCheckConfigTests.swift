import Testing
@testable import WeirConfig

/// `option external-check`, `external-check command|path` and the global
/// keywords that allow them.
@Suite struct ExternalCheckConfigTests {
    static let allowed = "global\n    external-check\n    insecure-fork-wanted\n"

    @Test func defaultsGiveTheProgramAndItsPath() throws {
        let c = try #require(config(Self.allowed + timeoutDefaults + """
            defaults
                option external-check
                external-check command /bin/sh
                external-check path "/usr/bin:/bin"
            backend be
                server s1 10.0.0.1:80 check
            backend other
                no option external-check
                server s1 10.0.0.2:80 check

            """))
        #expect(c.backends[0].healthCheck == .external(ExternalCheck(command: "/bin/sh", path: "/usr/bin:/bin")))
        #expect(c.backends[1].healthCheck == .connect)
        #expect(c.global.externalCheck && c.global.insecureForkWanted)
    }

    @Test func aNameIsFoundInThePath() throws {
        let c = try #require(config(Self.allowed + timeoutDefaults + """
            backend be
                option external-check
                external-check command sh
                external-check path "/nonexistent:/bin"
                server s1 10.0.0.1:80 check

            """))
        #expect(c.backends[0].healthCheck == .external(ExternalCheck(command: "/bin/sh", path: "/nonexistent:/bin")))
    }

    @Test func refusals() {
        // `timeoutDefaults` takes lines 1 to 4.
        #expect(errors(timeoutDefaults + "backend be\n option external-check\n external-check command /bin/sh\n")
                == ["t.cfg:6:9: error: 'option external-check' in backend 'be' runs programs: add 'external-check' "
                    + "to the 'global' section to allow it"])
        #expect(errors("global\n external-check\n" + timeoutDefaults
                                       + "backend be\n option external-check\n external-check command /bin/sh\n")
                == ["t.cfg:8:9: error: 'option external-check' in backend 'be' runs programs: add 'insecure-fork-wanted' "
                    + "to the 'global' section to allow it"])
        let allowed = Self.allowed + timeoutDefaults + "backend be\n option external-check\n"
        #expect(errors(allowed)
                == ["t.cfg:9:9: error: 'option external-check' in backend 'be' needs 'external-check command <program>'"])
        #expect(errors(allowed + " external-check command /etc/passwd\n")
                == ["t.cfg:10:25: error: external-check command: '/etc/passwd' is not an executable file"])
        #expect(errors(allowed + " external-check run /bin/sh\n").first
                == "t.cfg:10:17: error: external-check: expected 'command' or 'path', got 'run'")
        #expect(errors("frontend fe\n bind :80\n external-check command /bin/sh\n").count == 1)
    }
}
