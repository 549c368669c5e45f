import Glibc

/// One non-blocking socket to one Redis instance, with hiredis's reader on the receiving
/// side. It does not wait on its own: `InstanceSet` polls all connections of a round at once,
/// so a slow instance costs the round its deadline, never a sum over instances.
///
/// A connection carries at most one request (a pipeline of commands) at a time. When a
/// request fails or times out the socket is closed, because late replies would arrive out
/// of step; the next request connects again. A request a decided round lets go (`letGo`)
/// keeps an open connection: its replies are counted as owed and dropped when they come.
///
/// Where it stands is one `State`: asking the sentinels (`redis+sentinel://`), looking up
/// the host name, connecting, in the TLS handshake (`rediss://`), waiting for the replies
/// of the handshake (`HandshakeStep`s pipelined ahead of the first request), ready, or
/// listening for pushed messages. What OpenSSL waits for (WANT_READ / WANT_WRITE) becomes
/// the events this connection asks poll for.
public final class Connection {
    /// An open socket, with a TLS session on it for `rediss://`, and where it goes.
    private struct Link {
        let socket: FileDescriptor
        let session: TLSSession?
        let address: StreamSocket.Address
    }

    /// A plain-text PING on a second socket to the address of a TLS handshake that gets no
    /// answer. redis-server takes a ClientHello for the start of an inline command and
    /// waits for the rest, so a `rediss://` URL for a plain port would only ever time out,
    /// like a paused TLS server: a RESP answer to PING tells them apart.
    private struct PlainTextProbe {
        let socket: FileDescriptor
        var isConnected: Bool
    }

    private enum State {
        /// No socket: the next request connects. Also after `close()`.
        case idle
        /// The current request failed and the socket is closed; the next request connects.
        case failed(RedisError)
        /// Asking the sentinels for the master's address: no socket to the instance yet.
        case resolving(SentinelResolver)
        /// Looking up the host name of `target` (on a thread of its own).
        case lookingUp(HostLookup, target: Endpoint.Address)
        /// The TCP (or unix socket) connect is under way.
        case connecting(Link)
        /// Connected; the TLS handshake is under way. Past `probeAt` without an answer, a
        /// plain-text probe starts (nil once one has told nothing).
        case securing(Link, probeAt: Instant?)
        /// The TLS handshake goes on while the probe asks whether the port speaks plain text.
        case probing(Link, PlainTextProbe)
        /// Connected; the replies to these handshake steps are still to come, in order.
        case handshaking(Link, pending: [HandshakeStep])
        /// Connected and through the handshake: replies are the request's.
        case ready(Link)
        /// After SUBSCRIBE: replies beyond the request's are pushed messages.
        case listening(Link)

        var link: Link? {
            switch self {
            case let .connecting(link), let .securing(link, _), let .probing(link, _), let .handshaking(link, _), let .ready(link), let .listening(link): return link
            case .idle, .failed, .resolving, .lookingUp: return nil
            }
        }
    }

    public let endpoint: Endpoint
    private let tlsContext: TLSContext?
    private let connectTimeout: Duration
    /// Shared with the other connections of the set: one lookup per host at a time.
    private let hostLookups: HostLookups
    /// The steps every new socket goes through, as this connection was configured.
    private let handshakePlan: [HandshakeStep]
    private var state: State = .idle
    /// Kept across connections: it asks the sentinel that answered last first.
    private var resolver: SentinelResolver?
    /// The master's address as the sentinels gave it, while connected through them.
    public private(set) var masterAddress: HostPort?
    /// What OpenSSL last said it needs to go on; it may want to write while we read.
    private var sessionWants: Poll.Events = []
    private var reader = ReplyReader()
    private var outbox: [UInt8] = []
    private var outboxOffset = 0
    private var repliesExpected = 0
    private var replies: [Reply] = []
    /// Where reads land before hiredis's reader copies them: one buffer for the
    /// connection's life, not an allocation per read.
    private var readBuffer = [UInt8](repeating: 0, count: 16 * 1024)
    private var pushed: [Reply] = []
    /// Handshake steps asked after the request, because the combined one could not answer
    /// them (`HandshakeStep.describeServerAndRole`): their replies follow the request's, and
    /// the request is finished only once they are read (a replica fails it, as before).
    private var lateSteps: [HandshakeStep] = []
    /// Replies owed for requests a decided round stopped waiting for (`letGo`). The server
    /// answers in order, so the next replies read are theirs, and they are dropped.
    private var owedReplies = 0
    /// A request was let go since the last one answered (`loadsScriptsFirst`).
    private var letGoUnanswered = false
    /// A dropped reply said READONLY (a Sentinel master turned replica): closed after the
    /// current request, as when the request's own reply says so.
    private var droppedReadOnly = false

    /// The server's uptime as INFO reported it in the handshake, and when.
    private(set) var serverUptime: (seconds: Duration, measuredAt: Instant)?
    /// The server's INFO `run_id` from the handshake: the same server, whatever address
    /// or database reached it, has the same one. Nil until known (or when INFO is refused).
    private(set) var serverRunID: String?
    /// What the server answered ROLE in the handshake; nil until known (or when refused).
    private(set) var serverRole: ServerRole?

    /// `tls` is required for a `rediss` endpoint (without it, connecting fails).
    /// `connectTimeout` is shared out between the sentinels of a `redis+sentinel://` endpoint.
    /// With `describesServer` (or the older name `asksUptime`), the handshake asks INFO
    /// server (uptime and run_id); with `checksRole`, the role, and a server that is not a
    /// master fails every request (a replica never votes). Both: one INFO server replication.
    public init(endpoint: Endpoint, asksUptime: Bool = false, describesServer: Bool = false, checksRole: Bool = false, tls: TLSContext? = nil,
                connectTimeout: Duration = .milliseconds(500), hostLookups: HostLookups = HostLookups()) {
        self.endpoint = endpoint
        self.tlsContext = tls
        self.connectTimeout = connectTimeout
        self.hostLookups = hostLookups
        handshakePlan = HandshakeStep.plan(for: endpoint, describesServer: describesServer || asksUptime, checksRole: checksRole)
    }

    deinit {
        resolver?.cancel()
        if case let .probing(_, probe) = state { probe.socket.close() }
        state.link?.session?.shutdown()
        state.link?.socket.close()
    }

    /// Whether a socket is open (connected or connecting).
    public var isOpen: Bool { state.link != nil }

    var descriptor: FileDescriptor? {
        switch state {
        case let .resolving(resolver): return resolver.descriptor
        case let .lookingUp(lookup, _): return lookup.descriptor
        default: return state.link?.socket
        }
    }

    /// When the current step (asking one sentinel, or waiting for the TLS server's first
    /// answer) has had its share of time.
    var stepDeadline: Instant? {
        switch state {
        case let .resolving(resolver): return resolver.stepDeadline
        case let .securing(_, probeAt): return probeAt
        default: return nil
        }
    }

    /// The current step missed `stepDeadline`: the next sentinel is asked, or a silent TLS
    /// handshake gets a plain-text probe.
    func stepTimedOut() {
        switch state {
        case let .resolving(resolver):
            resolver.stepTimedOut()
            afterResolving()
        case let .securing(link, _?):
            startProbe(beside: link)
        default:
            break
        }
    }

    /// Starts a request: connects first when needed (with the handshake pipelined ahead of
    /// `commands`), then queues `commands`. Returns whether a connection had to be opened.
    @discardableResult
    func begin(_ commands: [Command]) -> Bool {
        replies = []
        repliesExpected = commands.count
        var opened = false
        switch state {
        case .idle, .failed:
            state = .idle
            opened = true
            do {
                try open()
            } catch {
                fail(error)
                return opened
            }
        default: break
        }
        for command in commands { outbox += command.encoded }
        // On an open connection the request goes out now, not after a poll for writability
        // that would only say what a fresh socket buffer always is: one poll less per round.
        if state.link != nil && !isStillConnecting { flush() }
        return opened
    }

    /// Whether the next request opens the connection first (none is open, or the last
    /// failed), or follows a request let go unanswered (`letGo`): its script may be missing
    /// there, and a NOSCRIPT for it went unread, so the next one loads its script first.
    var loadsScriptsFirst: Bool {
        switch state {
        case .idle, .failed: return true
        default: return letGoUnanswered
        }
    }

    /// Whether the current request has all its replies, or has failed.
    var isFinished: Bool {
        switch state {
        case .failed: return true
        case .idle, .ready, .listening: return replies.count >= repliesExpected && lateSteps.isEmpty
        case .resolving, .lookingUp, .connecting, .securing, .probing, .handshaking: return false
        }
    }

    /// Asking sentinels, looking up the host, connecting or in the TLS handshake: still
    /// under `--connect-timeout`.
    var isStillConnecting: Bool {
        switch state {
        case .resolving, .lookingUp, .connecting, .securing, .probing: return true
        case .idle, .failed, .handshaking, .ready, .listening: return false
        }
    }

    /// The TLS protocol of the open connection ("TLSv1.3"); nil without TLS.
    public var tlsProtocol: String? {
        switch state {
        case let .handshaking(link, _), let .ready(link), let .listening(link): return link.session?.protocolVersion
        default: return nil
        }
    }

    /// Whether replies have arrived that poll cannot see on the socket any more (OpenSSL
    /// decrypted and holds them).
    var hasBufferedInput: Bool { state.link?.session?.hasBufferedInput ?? false }

    /// The events this connection waits for now.
    var wantedEvents: Poll.Events {
        guard !isFinished else { return [] }
        switch state {
        case .idle, .failed: return []
        case let .resolving(resolver): return resolver.wantedEvents
        case .lookingUp: return .readable
        case .connecting: return [.readable, .writable]
        case .securing, .probing: return sessionWants.isEmpty ? [.readable, .writable] : sessionWants
        case .handshaking, .ready, .listening:
            var events: Poll.Events = .readable
            if outboxOffset < outbox.count { events.insert(.writable) }
            return events.union(sessionWants)
        }
    }

    /// Acts on what poll reported for this connection's socket.
    func handle(_ events: Poll.Events) {
        guard !isFinished else { return }
        switch state {
        case let .resolving(resolver):
            resolver.handle(events)
            afterResolving()
            return
        case .lookingUp:
            if !events.isEmpty { afterLookup() }
            return
        case let .connecting(link):
            guard !events.isEmpty else { return }
            if let error = StreamSocket.connectError(of: link.socket) {
                fail(connectionFailed(error.description))
                return
            }
            connected(link)
        default: break
        }
        if let link = state.link, let session = link.session, !session.isHandshakeDone {
            sessionWants = []
            switch session.handshake() {
            case .done:
                if case let .probing(_, probe) = state { probe.socket.close() }
                secured(link)
            case let .wants(events):
                sessionWants = events
                return
            case .closed:
                fail(.tls("handshake failed: connection closed by the server (is the port a TLS port?)"))
                return
            case let .failed(reason, remedy):
                fail(.tls(reason, remedy: remedy))
                return
            case let .broken(reason):
                fail(.tls(reason))
                return
            }
        }
        guard state.link != nil else { return }
        sessionWants = []
        if events.contains(.writable) || outboxOffset < outbox.count { flush() }
        // OpenSSL may hold decrypted bytes, or have wanted to write in order to read.
        if !isFailed && (state.link?.session != nil || events.contains(.readable) || events.contains(.hangUp) || events.contains(.error)) {
            receive()
        }
    }

    /// Ends the current request: its replies, or why there are none.
    func finish() -> Result<[Reply], RedisError> {
        if case let .failed(error) = state { return .failure(error) }
        letGoUnanswered = false
        // A master that turned replica under a failover answers READONLY: drop it, so that
        // the next request asks the sentinels again.
        if case .sentinel = endpoint.address, droppedReadOnly || replies.contains(where: Self.saysReadOnly) {
            close()
        }
        return .success(replies)
    }

    /// A READONLY error: the server is a replica now.
    private static func saysReadOnly(_ reply: Reply) -> Bool { reply.errorMessage?.hasPrefix("READONLY") == true }

    /// Gives up on the current request (its deadline passed); the socket is closed.
    func timeOut() {
        let what: String
        switch state {
        case let .resolving(resolver): what = "asking the sentinels for '\(resolver.master)'"
        case let .lookingUp(lookup, _): what = "looking up '\(lookup.host)' (is the DNS server answering?)"
        case .connecting: what = "connecting" + (masterAddress.map { " to the master at \($0), as the sentinel said" } ?? "")
        // In the TLS handshake: a paused server, or a plain-text one the probe did not reach.
        case .securing, .probing: what = "in the TLS handshake (is the port a TLS port?)"
        default: what = "waiting for a reply"
        }
        fail(.timedOut(what))
    }

    /// A decided round stops waiting for the current request. When the whole request is out
    /// on an open connection (its handshake's replies may still be coming), the connection
    /// stays: the server still runs the request and answers in order, so its replies are
    /// dropped when they come, and the next request follows it on the same connection (on
    /// a new one it could overtake it on the server, and it would cost a connect and a
    /// handshake). Otherwise (still connecting, some bytes unsent) it is closed, as by a
    /// timeout.
    func letGo() {
        let open: Bool
        switch state {
        case .ready, .handshaking: open = true
        default: open = false
        }
        guard open, outboxOffset >= outbox.count, lateSteps.isEmpty else { return timeOut() }
        owedReplies += repliesExpected - replies.count
        letGoUnanswered = true
        repliesExpected = 0
        replies = []
    }

    /// Whether replies to a request let go (`letGo`) are still to come: the server has not
    /// answered it yet.
    var owesReplies: Bool { owedReplies > 0 }

    /// Keeps the connection open for pushed messages once the current request (SUBSCRIBE)
    /// has its replies. It takes no further requests.
    func listen() {
        if case let .ready(link) = state { state = .listening(link) }
    }

    var isListening: Bool {
        if case .listening = state { return true }
        return false
    }

    /// Reads whatever has arrived without blocking and returns the pushed messages; an empty
    /// result with `isListening` false means the connection was lost.
    func takePushed() -> [Reply] {
        guard isListening else { return [] }
        receive()
        let messages = pushed
        pushed = []
        return messages
    }

    /// Closes the socket; the next request reconnects. A failed request stays failed: its
    /// error is what `finish` returns.
    public func close() {
        resolver?.cancel()
        if case let .probing(_, probe) = state { probe.socket.close() }
        if let link = state.link {
            link.session?.shutdown()
            link.socket.close()
        }
        if !isFailed { state = .idle }
        pushed = []
        masterAddress = nil
        sessionWants = []
        reader = ReplyReader()
        outbox = []
        outboxOffset = 0
        lateSteps = []
        owedReplies = 0
        letGoUnanswered = false
        droppedReadOnly = false
    }

    private var isFailed: Bool {
        if case .failed = state { return true }
        return false
    }

    private func fail(_ error: RedisError) {
        close()
        state = .failed(scrubbed(error))
    }

    /// Error texts from the server are echoed to users; make sure the password is not in them.
    private func scrubbed(_ error: RedisError) -> RedisError {
        guard let password = endpoint.password, !password.isEmpty else { return error }
        let description = error.description
        guard description.contains(password) else { return error }
        switch error {
        case .authenticationFailed: return .authenticationFailed("(message hidden: it contained the password)")
        default: return .server("(message hidden: it contained the password)")
        }
    }

    // MARK: - Connecting

    private func open() throws(RedisError) {
        // The handshake waits in the outbox until the socket is through connecting (and TLS).
        serverUptime = nil
        serverRunID = nil
        serverRole = nil
        for step in handshakePlan { outbox += step.command(for: endpoint).encoded }
        guard case let .sentinel(sentinels, master) = endpoint.address else {
            try connect(to: endpoint.address)
            return
        }
        let resolver = self.resolver ?? SentinelResolver(sentinels: sentinels, master: master, connectTimeout: connectTimeout, tls: endpoint.usesTLS ? tlsContext : nil, hostLookups: hostLookups)
        self.resolver = resolver
        state = .resolving(resolver)
        resolver.start()
        afterResolving()
    }

    /// Connects to the master once the sentinels named it, or fails with their reasons.
    private func afterResolving() {
        guard case let .resolving(resolver) = state, let outcome = resolver.outcome else { return }
        state = .idle
        switch outcome {
        case let .found(address):
            masterAddress = address
            do {
                try connect(to: .tcp(host: address.host, port: address.port))
            } catch {
                fail(error)
            }
        case let .failed(error):
            fail(error)
        }
    }

    /// A connection failure, naming the master's address when the sentinels gave it.
    private func connectionFailed(_ reason: String) -> RedisError {
        .connectionFailed(masterAddress.map { "\(reason) (the master at \($0), as the sentinel said)" } ?? reason)
    }

    /// Starts connecting to `target`; a host name is looked up first, without blocking.
    private func connect(to target: Endpoint.Address) throws(RedisError) {
        switch target {
        case let .unix(path):
            try connect(to: target, at: StreamSocket.address(unixPath: path))
        case let .tcp(host, port):
            if let address = StreamSocket.numericAddress(host: host, port: port) {
                try connect(to: target, at: address)
                return
            }
            do throws(StreamSocket.ResolutionError) {
                state = .lookingUp(try hostLookups.lookup(host: host, port: port), target: target)
            } catch {
                throw connectionFailed(error.description)
            }
        case .sentinel:
            preconditionFailure("a sentinel endpoint connects to the address its sentinels give")
        case .cluster:
            preconditionFailure("a cluster endpoint connects through ClusterLink's node connections")
        }
    }

    /// Connects once the host name's lookup has finished, or fails with its reason.
    private func afterLookup() {
        guard case let .lookingUp(lookup, target) = state, let outcome = lookup.outcome() else { return }
        state = .idle
        switch outcome {
        case let .success(address):
            do {
                try connect(to: target, at: address)
            } catch {
                fail(error)
            }
        case let .failure(error):
            fail(connectionFailed(error.description))
        }
    }

    private func connect(to target: Endpoint.Address, at address: StreamSocket.Address) throws(RedisError) {
        let descriptor: FileDescriptor
        let inProgress: Bool
        do {
            (descriptor, inProgress) = try StreamSocket.connect(to: address)
        } catch {
            throw connectionFailed(error.description)
        }
        var session: TLSSession?
        if endpoint.usesTLS {
            // The name to verify is the one connected to: for Sentinel, the master's address.
            guard let tlsContext, case let .tcp(host, _) = target else {
                descriptor.close()
                throw .tls("is not configured for this connection")
            }
            do {
                session = try TLSSession(context: tlsContext, socket: descriptor, host: host)
            } catch {
                descriptor.close()
                throw error
            }
        }
        let link = Link(socket: descriptor, session: session, address: address)
        if inProgress {
            state = .connecting(link)
        } else {
            connected(link)
        }
    }

    /// The connect finished: TLS comes next, or the handshake's replies.
    private func connected(_ link: Link) {
        if link.session != nil {
            // A TLS server answers a ClientHello at once; half the connect time without an
            // answer is worth a probe.
            state = .securing(link, probeAt: Instant.now() + connectTimeout / 2)
        } else {
            secured(link)
        }
    }

    /// The link is ready to carry bytes: the handshake's replies come first.
    private func secured(_ link: Link) {
        state = handshakePlan.isEmpty ? .ready(link) : .handshaking(link, pending: handshakePlan)
    }

    // MARK: - The plain-text probe

    private func startProbe(beside link: Link) {
        do {
            let (socket, inProgress) = try StreamSocket.connect(to: link.address)
            state = .probing(link, PlainTextProbe(socket: socket, isConnected: false))
            if !inProgress { handleProbe(.writable) }
        } catch {
            // No probe: the handshake may still finish, or time out as it would have.
            state = .securing(link, probeAt: nil)
        }
    }

    /// The probe's socket and what to wait for on it, while probing.
    var probeRequest: (FileDescriptor, Poll.Events)? {
        guard case let .probing(_, probe) = state else { return nil }
        return (probe.socket, probe.isConnected ? .readable : .writable)
    }

    /// Acts on what poll saw on the probe's socket: sends PING once connected, and takes a
    /// RESP answer (`+PONG`, `-NOAUTH ...`) for proof that the port speaks plain text.
    func handleProbe(_ events: Poll.Events) {
        guard case let .probing(link, probe) = state, !events.isEmpty else { return }
        /// The probe told nothing (refused, closed, not RESP): the handshake goes on alone.
        func giveUp() {
            probe.socket.close()
            state = .securing(link, probeAt: nil)
        }
        if !probe.isConnected {
            guard StreamSocket.connectError(of: probe.socket) == nil else { return giveUp() }
            let ping = Array("PING\r\n".utf8)
            guard (try? ping.withUnsafeBytes { try probe.socket.send($0) }) == ping.count else { return giveUp() }
            state = .probing(link, PlainTextProbe(socket: probe.socket, isConnected: true))
            return
        }
        var first: [UInt8] = [0]
        let outcome: Result<Int, Errno> = first.withUnsafeMutableBytes { buffer in
            do throws(Errno) { return .success(try probe.socket.read(into: buffer)) } catch { return .failure(error) }
        }
        let count: Int
        switch outcome {
        case let .success(read): count = read
        case .failure(.wouldBlock): return
        case .failure: return giveUp()
        }
        guard count == 1, first[0] == UInt8(ascii: "+") || first[0] == UInt8(ascii: "-") else { return giveUp() }
        fail(.tls("handshake failed: the port answers plain-text Redis (a rediss:// URL for a plain port?)"))
    }

    // MARK: - Bytes

    private func flush() {
        guard let socket = state.link?.socket else { return }
        while outboxOffset < outbox.count {
            let result = outbox.withUnsafeBytes { raw in
                send(UnsafeRawBufferPointer(rebasing: raw[outboxOffset...]), on: socket)
            }
            guard let sent = bytesMoved(result) else { return }
            outboxOffset += sent
        }
        outbox = []
        outboxOffset = 0
    }

    private func receive() {
        while let socket = state.link?.socket {
            let result = readBuffer.withUnsafeMutableBytes { raw in read(into: raw, from: socket) }
            guard let count = bytesMoved(result) else { return }
            do throws(RedisError) {
                try reader.feed(Array(readBuffer[..<count]))
                while state.link != nil, let reply = try reader.next() { accept(reply) }
            } catch {
                fail(error)
                return
            }
            if isFinished && !isListening { return }
        }
    }

    /// What one send or read on the socket (through TLS when there is a session) did.
    private enum Transfer {
        case moved(Int)
        case wouldBlock
        case closed
        case failed(RedisError)
    }

    /// The bytes a transfer moved; nil when it moved none, after failing the request when
    /// the socket is closed or broken (would-block only means: wait for poll).
    private func bytesMoved(_ transfer: Transfer) -> Int? {
        switch transfer {
        case let .moved(count):
            return count
        case .wouldBlock:
            return nil
        case .closed:
            fail(.connectionClosed)
            return nil
        case let .failed(error):
            fail(error)
            return nil
        }
    }

    private func send(_ bytes: UnsafeRawBufferPointer, on socket: FileDescriptor) -> Transfer {
        if let session = state.link?.session { return transfer(session.write(bytes)) }
        do {
            return .moved(try socket.send(bytes))
        } catch {
            return error == .wouldBlock ? .wouldBlock : .failed(.connectionFailed(error.description))
        }
    }

    private func read(into buffer: UnsafeMutableRawBufferPointer, from socket: FileDescriptor) -> Transfer {
        if let session = state.link?.session { return transfer(session.read(into: buffer)) }
        do {
            let count = try socket.read(into: buffer)
            return count == 0 ? .closed : .moved(count)
        } catch {
            return error == .wouldBlock ? .wouldBlock : .failed(.connectionFailed(error.description))
        }
    }

    private func transfer(_ outcome: TLSSession.Outcome) -> Transfer {
        switch outcome {
        case let .done(count):
            return .moved(count)
        case let .wants(events):
            // Wanting to write in order to read (or the reverse) is remembered for poll;
            // wanting what we wait for anyway needs nothing more.
            sessionWants = events
            return .wouldBlock
        case .closed:
            return .closed
        case let .failed(reason, remedy):
            return .failed(.tls(reason, remedy: remedy))
        case let .broken(reason):
            return .failed(.connectionFailed("TLS \(reason)"))
        }
    }

    // MARK: - Replies

    private func accept(_ reply: Reply) {
        switch state {
        case let .handshaking(link, pending):
            var rest = pending
            let step = rest.removeFirst()
            state = rest.isEmpty ? .ready(link) : .handshaking(link, pending: rest)
            apply(step.finding(in: reply))
        case .ready:
            if owedReplies > 0 {
                owedReplies -= 1
                if Self.saysReadOnly(reply) { droppedReadOnly = true }
            } else if replies.count < repliesExpected {
                replies.append(reply)
            } else if !lateSteps.isEmpty {
                apply(lateSteps.removeFirst().finding(in: reply))
            } else {
                fail(.unexpectedReply("more replies than requests"))
            }
        case .listening:
            if replies.count < repliesExpected {
                replies.append(reply)
            } else if !lateSteps.isEmpty {
                apply(lateSteps.removeFirst().finding(in: reply))
            } else {
                pushed.append(reply)
            }
        case .idle, .failed, .resolving, .lookingUp, .connecting, .securing, .probing:
            break
        }
    }

    /// Acts on what a handshake reply said.
    private func apply(_ finding: HandshakeStep.Finding) {
        switch finding {
        case .accepted:
            break
        case let .refused(error):
            fail(error)
        case let .server(uptimeSeconds, runID):
            // A managed service may refuse INFO: then the uptime and identity are unknown.
            serverUptime = uptimeSeconds.map { (.seconds($0), Instant.now()) }
            serverRunID = runID
        case let .described(uptimeSeconds, runID, role):
            apply(.server(uptimeSeconds: uptimeSeconds, runID: runID))
            if let role { apply(.role(role)) } else { apply(.askSeparately([.checkRole])) }
        case let .askSeparately(steps):
            // After the request already sent: one round trip more, only for such servers.
            lateSteps += steps
            for step in steps { outbox += step.command(for: endpoint).encoded }
            flush()
        case let .role(role):
            serverRole = role
            guard let role, role != .master else { return }
            if case .sentinel = endpoint.address {
                resolver?.distrustLastAnswer()
                fail(.sentinel("the sentinels named \(masterAddress.map(\.description) ?? "an address") the master, but it says it is a \(role) (a failover in progress?)"))
                return
            }
            switch role {
            case let .replica(master):
                fail(.misconfigured("is a replica of \(master.map(\.description) ?? "another server"); a replica never votes"))
            case .sentinel:
                fail(.misconfigured("is a Redis Sentinel, not a master (use redis+sentinel:// to reach the master it watches)"))
            case .master, .other:
                fail(.misconfigured("says its role is '\(role)', not master; only a master votes"))
            }
        }
    }
}
