import Testing
@testable import WeirConfig

/// `track [BACKEND/]SERVER` as the configuration reads it.
@Suite("track configuration")
struct TrackConfigTests {
    @Test func aTrackResolvesInItsOwnOrAnotherBackendDeclaredLater() throws {
        let configuration = try #require(config(timeoutDefaults + """
            backend be
                server t1 127.0.0.1:8001 track s1
                server t2 127.0.0.1:8002 track other/s2
                server s1 127.0.0.1:8003 check
            backend other
                server s2 127.0.0.1:8004 check
                server t3 127.0.0.1:8005 track be/t2
            """))
        let be = configuration.backends[0], other = configuration.backends[1]
        #expect(be.servers[0].track.map { [$0.backend, $0.server] } == [0, 2])
        #expect(be.servers[1].track.map { [$0.backend, $0.server] } == [1, 0])
        #expect(be.servers[1].track?.backendName == "other")
        #expect(be.servers[2].track == nil)
        // A chain: t3 -> be/t2 -> other/s2.
        #expect(other.servers[1].track.map { [$0.backend, $0.server] } == [0, 1])
        #expect(configuration.trackedRoot(backend: 1, server: 1).map { [$0.backend, $0.server] } == [1, 0])
        #expect(configuration.trackedRoot(backend: 0, server: 2) == nil)
    }

    @Test func defaultServerMayTrack() throws {
        let configuration = try #require(config(timeoutDefaults + """
            backend be
                server s1 127.0.0.1:8001 check
                default-server track s1
                server t1 127.0.0.1:8002
            """))
        #expect(configuration.backends[0].servers[1].track?.server == 0)
    }

    @Test func unknownNamesAreErrorsWithSuggestions() {
        #expect(errors(timeoutDefaults + """
            backend be
                server s1 127.0.0.1:8001 check
                server t1 127.0.0.1:8002 track s2
            """) == ["t.cfg:7:36: error: track: no server 's2' in backend 'be'; did you mean 's1'?"])
        #expect(errors(timeoutDefaults + """
            backend be
                server s1 127.0.0.1:8001 check
                server t1 127.0.0.1:8002 track bee/s1
            """) == ["t.cfg:7:36: error: track: no backend named 'bee'; did you mean 'be'?"])
        #expect(errors(timeoutDefaults + """
            backend be
                server t1 127.0.0.1:8002 track be/
            """) == ["t.cfg:6:36: error: track: expected a server name, or a backend and server like app/web1, "
                     + "got 'be/'"])
        #expect(errors(timeoutDefaults + """
            backend be
                server t1 127.0.0.1:8002 track
            """) == ["t.cfg:6:30: error: track: expected a server name, or a backend and server like app/web1"])
    }

    @Test func theTrackedServerNeedsACheckOrATrack() {
        #expect(errors(timeoutDefaults + """
            backend be
                server s1 127.0.0.1:8001
                server t1 127.0.0.1:8002 track s1
            """) == ["t.cfg:7:36: error: track: server 'be/s1' has neither 'check' nor 'track': there is no health to follow"])
    }

    @Test func trackAndCheckOnOneServerIsAnError() {
        #expect(errors(timeoutDefaults + """
            backend be
                server s1 127.0.0.1:8001 check
                server t1 127.0.0.1:8002 track s1 check
            """) == ["t.cfg:7:36: error: server 'be/t1': 'track' and 'check' cannot be used together: "
                     + "a tracking server takes its health from the tracked one"])
    }

    @Test func loopsAreErrors() {
        #expect(errors(timeoutDefaults + """
            backend be
                server a 127.0.0.1:8001 track b
                server b 127.0.0.1:8002 track a
            """) == ["t.cfg:6:35: error: track: tracking loop be/a -> be/b -> be/a",
                     "t.cfg:7:35: error: track: tracking loop be/b -> be/a -> be/b"])
        #expect(errors(timeoutDefaults + """
            backend be
                server a 127.0.0.1:8001 track a
            """) == ["t.cfg:6:35: error: track: tracking loop be/a -> be/a"])
    }
}
