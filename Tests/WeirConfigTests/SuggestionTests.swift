import Testing
@testable import WeirConfig

@Suite struct SuggestionTests {
    @Test func typosGetTheNearestKeyword() {
        #expect(errors("defaults\n  tmeout connect 5s\n")
                == ["t.cfg:2:3: error: unknown keyword 'tmeout' in 'defaults' section; did you mean 'timeout'?"])
        #expect(errors("backend be\n  sever s 10.0.0.1:80\n")
                == ["t.cfg:2:3: error: unknown keyword 'sever' in 'backend' section; did you mean 'server'?"])
        #expect(errors("frontend fe\n bind :1\n defualt_backend be\n").first
                == "t.cfg:3:2: error: unknown keyword 'defualt_backend' in 'frontend' section; did you mean 'default_backend'?")
        #expect(errors("global\n  maxcon 10\n")
                == ["t.cfg:2:3: error: unknown keyword 'maxcon' in 'global' section; did you mean 'maxconn'?"])
        #expect(errors("defaults\n option redispach\n")
                == ["t.cfg:2:9: error: unknown option 'redispach'; did you mean 'redispatch'?"])
    }

    @Test func suggestionsOnlyOfferKeywordsAllowedInTheSection() {
        // 'bind' is not allowed in a backend, so 'bnd' gets no suggestion there.
        #expect(errors("backend be\n bnd :80\n") == ["t.cfg:2:2: error: unknown keyword 'bnd' in 'backend' section"])
    }

    @Test func farWordsGetNoSuggestion() {
        #expect(errors("defaults\n frobnicate 1\n") == ["t.cfg:2:2: error: unknown keyword 'frobnicate' in 'defaults' section"])
    }

    @Test func haproxyKeywordsAreUnsupportedNotUnknown() {
        #expect(errors(timeoutDefaults + """
            frontend fe
                bind :80
                error-log-format x
                tcp-response content accept
                stick-table type ip size 1m
                http-request set-bandwidth-limit x
                hash-balance-factor 150
                stats show-modules
                option independent-streams
                default_backend be
            backend be
                option spop-check
                persist rdp-cookie
                errorfiles site
                stick on src
            """) == [
            "t.cfg:7:5: error: 'error-log-format' is not supported by Weir yet",
            "t.cfg:8:5: error: 'tcp-response' is not supported by Weir yet",
            "t.cfg:10:18: error: 'http-request set-bandwidth-limit' is not supported by Weir yet",
            "t.cfg:11:5: error: 'hash-balance-factor' is not supported by Weir yet",
            "t.cfg:12:11: error: 'stats show-modules' is not supported by Weir yet",
            "t.cfg:13:12: error: 'option independent-streams' is not supported by Weir yet",
            "t.cfg:16:12: error: 'option spop-check' is not supported by Weir yet",
            "t.cfg:17:5: error: 'persist' is not supported by Weir yet",
            "t.cfg:18:16: error: errorfiles: no 'http-errors' section named 'site'",
            "t.cfg:19:5: error: stick on: backend 'be' has no stick-table; declare one or name another backend's with 'table'",
        ])
    }

    @Test func unsupportedGlobalKeywords() {
        #expect(errors("global\n nbproc 2\n lua-load /x.lua\n tune.ssl.maxrecord 1\n tune.something 1\n") == [
            "t.cfg:2:2: error: 'nbproc' was removed in HAProxy 2.5; remove it, or set the number of worker processes with 'nbthread'",
            "t.cfg:3:2: error: 'lua-load' is not supported by Weir yet",
            "t.cfg:4:2: error: 'tune.ssl.maxrecord' is not supported by Weir yet",
            "t.cfg:5:2: error: 'tune.something' is not supported by Weir yet",
        ])
        #expect(errors("global\n stats enable\n") == ["t.cfg:2:8: error: stats: unknown keyword 'enable'; expected 'socket' or 'timeout'"])
    }

    @Test func unsupportedSections() {
        #expect(errors("program api\n command /usr/bin/dataplaneapi\n") == ["t.cfg:1:1: error: 'program' sections are not supported by Weir yet"])
    }

    @Test func editDistance() {
        func d(_ a: String, _ b: String) -> Int { Keywords.distance(Array(a.unicodeScalars), Array(b.unicodeScalars)) }
        #expect(d("timeout", "timeout") == 0)
        #expect(d("tmeout", "timeout") == 1)
        #expect(d("tiemout", "timeout") == 1)
        #expect(d("", "abc") == 3)
        #expect(d("kitten", "sitting") == 3)
        #expect(Keywords.suggestion(for: "TIMEOUT", among: ["timeout"]) == "timeout")
        #expect(Keywords.suggestion(for: "xyz", among: ["timeout"]) == nil)
    }
}
