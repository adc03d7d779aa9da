import WeirDeflate
import WeirSystem

/// One direction of a session: bytes read from a source side, held in a
/// pooled buffer (only while there are bytes to hold), written to a sink side.
struct Direction {
    /// Pool id of the buffer, or -1 when none is held.
    var buffer: Int32 = -1
    /// Bytes `head..<tail` of the buffer are waiting to be written.
    var head = 0
    var tail = 0
    /// Edge-triggered readiness as last reported (cleared on EAGAIN or a short read/write).
    var sourceReadable = true
    var sinkWritable = true
    /// The source sent end-of-file.
    var sourceEOF = false
    /// epoll reported the source's peer closed (or an error): reads must go on
    /// until they return 0, as no further edge will come.
    var sourceHungUp = false
    /// We shut the sink's write side (end-of-file propagated).
    var sinkShut = false
    /// HTTP: the last send to the sink had MSG_MORE (the source had more
    /// bytes ready); pushed at the end of the pass if none followed.
    var sinkCorked = false
    /// Bytes read from the source.
    var bytes: Int64 = 0
    /// HTTP: bytes `head..<limit` are analysed and may be sent; the bytes
    /// from `limit` on wait for analysis (or are the next pipelined request).
    var limit = 0
    /// HTTP: a pooled buffer holding a rewritten or generated message head,
    /// sent before the buffer's bytes; -1 when none.
    var prefix: Int32 = -1
    var prefixHead = 0
    var prefixTail = 0
    /// Keep the prefix once sent: a request head that may have to be sent
    /// again on a new connection if a reused one turns out to be closed.
    var holdPrefix = false
    /// HTTP: keep the request's body bytes `replayFrom..<limit` once sent
    /// (the buffer is neither released nor compacted), so that the whole
    /// request can be sent again (`retry-on`). Dropped, for good, when the
    /// buffer would have to make room.
    var holdBody = false
    var replayFrom = 0

    var isEmpty: Bool { head == tail }
    /// End-of-file reached the sink: nothing more will flow this way.
    var isFinished: Bool { sinkShut }
}

enum Phase: UInt8 {
    /// Waiting in the backend queue for a server slot.
    case queued
    /// Waiting out the turn-around delay before retrying a connect.
    case retryWait
    case connecting
    case connected
    /// HTTP lingering close: the last response written and the write side
    /// shut, discarding what the client still sends until it closes.
    case lingering
    /// HTTP: waiting for or reading a request head (the first one or the next
    /// one on a keep-alive connection).
    case httpHead
    /// HTTP: writing a response the proxy generated (error, deny, redirect,
    /// return); the session then waits for the next request or closes.
    case httpReply
    /// Mode tcp: `tcp-request content` rules wait for the client's bytes
    /// (`tcp-request inspect-delay`) before a server is chosen.
    case inspecting
}

/// One client connection and, once assigned, its server connection. Lives in
/// the worker's slab; epoll tokens and timers name it by slot + generation.
struct Session {
    var clientFD: Int32
    var serverFD: Int32 = -1
    var phase: Phase
    var frontend: Int32
    var backend: Int32 = -1
    /// Index of the assigned server in its backend, -1 before assignment.
    var server: Int32 = -1
    /// HTTP keep-alive: the backend and server the open server connection
    /// belongs to (it may outlive the exchange that opened it), -1 when none.
    var connectionBackend: Int32 = -1
    var connectionServer: Int32 = -1
    /// The balancer counts this session on `server`.
    var countedOnServer = false
    var retriesLeft: Int32 = 0
    var retriesDone: Int32 = 0
    var redispatched = false
    /// `option logasap`: the line of the exchange (or tcp session) went out
    /// early; the one at its end is skipped.
    var loggedEarly = false
    /// Client to server.
    var toServer = Direction()
    /// Server to client.
    var toClient = Direction()

    var acceptedAt: Int64
    var acceptedWall: Int64
    /// When the session entered the queue, or -1.
    var queuedAt: Int64 = -1
    /// Time spent queued, or -1 when it never reached a server.
    var queueTime: Int64 = -1
    var connectStart: Int64 = -1
    /// Time to connect, or -1 when no connection was established.
    var connectTime: Int64 = -1

    /// Deadlines (monotonic ms), Int64.max when not armed.
    var clientExpiry = Int64.max
    var serverExpiry = Int64.max
    /// Queue, connect or retry deadline, depending on the phase.
    var phaseExpiry = Int64.max
    /// The earliest deadline pushed to the timer heap for this session.
    var scheduled = Int64.max
    /// The loop's tick in which it last counted this session among its
    /// busy connections (`WakeupCoalescing.countBusy`).
    var busyStamp: Int64 = -1

    /// Backend queue links (slots), -1 at the ends.
    var queueNext: Int32 = -1
    var queuePrev: Int32 = -1
    var inQueue = false
    /// While queued: the server persistence binds it to (it waits for that
    /// one, counted against its `maxqueue`), -1 for any server.
    var queuedServer: Int32 = -1

    var peer: PeerAddress
    /// The client side's TLS connection (`SSL *`), nil on a plain bind.
    var tls: OpaquePointer?
    /// The TLS handshake, or the PROXY protocol header before it, is not
    /// finished: nothing else happens until it is.
    var handshaking = false
    /// `accept-proxy`, `expect-proxy`: the PROXY protocol header is awaited
    /// (`handshaking` is set too). Once it came, `peer` is the address it carries.
    var awaitingProxyHeader = false
    /// A PROXY protocol header carried the destination: what `dst`, `%fi`
    /// and `option originalto` see instead of the socket's own address is
    /// the worker's `proxiedDestinations[slot]` (out of the session, which
    /// every idle connection pays for).
    var hasProxiedDestination = false
    /// The server side's TLS connection (`server … ssl`), nil when plain;
    /// it belongs to the server connection and goes with it to the idle pool.
    var serverTLS: OpaquePointer?
    /// The server connection is connected but its TLS handshake is not
    /// finished (the phase stays `connecting`, bounded by `timeout connect`).
    var serverHandshaking = false
    /// The SNI the server connection was made with when it came from the
    /// request (`Worker.sniHash`); 0 when the connection may carry any request.
    var connectionSNI: UInt64 = 0
    /// `send-proxy`: the fingerprint of the PROXY header the server connection
    /// started with (`ProxyProtocol.fingerprint`); 0 when it sent none.
    var connectionProxyHeader: UInt64 = 0
    /// Index of the listener that accepted it.
    var listener: Int32 = -1
    /// The frontend is in `mode http`, or the session's backend is and
    /// upgraded it (`ContentInspection.swift`).
    var isHTTP = false
    /// An HTTP session switched to a tunnel (after `101 Switching Protocols`):
    /// bytes flow as in `mode tcp`.
    var isTunnel = false
    var exchange = HTTPExchange()
    /// Stick table persistence of the current request (StickPersistence.swift).
    var stick = StickState()
    /// The server a `use-server` rule picked for the current request, -1
    /// when none did (ServerRules.swift).
    var ruleServer: Int32 = -1
    /// The encoder of the response being compressed (`exchange.compressing`):
    /// kept out of the exchange, which is reset for every request, and set
    /// afresh when a compressed response begins.
    var deflate = DeflateStream(format: .identity)
    /// HAProxy's two-letter termination state: who ended it, and in which phase.
    var terminationCause = UInt8(ascii: "-")
    var terminationPhase = UInt8(ascii: "-")

    init(clientFD: Int32, frontend: Int32, phase: Phase, peer: PeerAddress, now: Int64, wall: Int64) {
        self.clientFD = clientFD
        self.frontend = frontend
        self.phase = phase
        self.peer = peer
        acceptedAt = now
        acceptedWall = wall
    }

    /// The earliest armed deadline.
    var nextDeadline: Int64 { min(phaseExpiry, min(clientExpiry, serverExpiry)) }

    /// The phase letter HAProxy logs for an end in the current phase.
    var phaseLetter: UInt8 {
        switch phase {
        case .queued: return UInt8(ascii: "Q")
        case .retryWait, .connecting: return UInt8(ascii: "C")
        case .connected: return isHTTP && exchange.response == .head ? UInt8(ascii: "H") : UInt8(ascii: "D")
        case .httpHead, .inspecting: return UInt8(ascii: "R")
        case .lingering, .httpReply: return UInt8(ascii: "L")
        }
    }
}
