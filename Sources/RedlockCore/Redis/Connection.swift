import Glibc

/// One non-blocking socket to one Redis instance, with hiredis's reader on the receiving
/// side. It does not wait on its own: `InstanceSet` polls all connections of a round at once,
/// so a slow instance costs the round its deadline, never a sum over instances.
///
/// A connection carries at most one request (a pipeline of commands) at a time. When a
/// request fails or times out the socket is closed, because late replies would arrive out
/// of step; the next request connects again.
///
/// For `redis+sentinel://` a `SentinelResolver` first asks the sentinels for the master's
/// address (under the same poll loop), and the handshake checks with ROLE that the address
/// is a master before any request is answered.
///
/// For `rediss://` a `TLSSession` sits between the socket and the reader: its handshake
/// follows the TCP connect under the same `--connect-timeout`, and what OpenSSL waits for
/// (WANT_READ / WANT_WRITE) becomes the events this connection asks poll for.
public final class Connection {
    public let endpoint: Endpoint
    private let tlsContext: TLSContext?
    private let connectTimeout: Duration
    /// Shared with the other connections of the set: one lookup per host at a time.
    private let hostLookups: HostLookups
    private var socket: FileDescriptor?
    private var resolver: SentinelResolver?
    /// Asking the sentinels: there is no socket to the instance yet.
    private var isResolving = false
    /// Looking up the host name of the address to connect to (on a thread of its own).
    private var lookingUp: (lookup: HostLookup, target: Endpoint.Address)?
    /// The master's address as the sentinels gave it, while connected through them.
    public private(set) var masterAddress: HostPort?
    private var session: TLSSession?
    /// What OpenSSL last said it needs to go on; it may want to write while we read.
    private var sessionWants: Poll.Events = []
    private var reader = ReplyReader()
    private var outbox: [UInt8] = []
    private var outboxOffset = 0
    private var isConnecting = false
    /// Names of the handshake commands (AUTH, SELECT) whose replies are still to come.
    private var handshake: [String] = []
    private var repliesExpected = 0
    private var replies: [Reply] = []
    /// Where reads land before hiredis's reader copies them: one buffer for the
    /// connection's life, not an allocation per read.
    private var readBuffer = [UInt8](repeating: 0, count: 16 * 1024)
    private var failure: RedisError?
    /// After SUBSCRIBE: replies beyond the request's are pushed messages, not an error.
    private(set) var isListening = false
    private var pushed: [Reply] = []

    private let asksUptime: Bool
    /// The server's uptime as INFO reported it in the handshake, and when.
    private(set) var serverUptime: (seconds: Duration, measuredAt: Instant)?

    /// `tls` is required for a `rediss` endpoint (without it, connecting fails).
    /// `connectTimeout` is shared out between the sentinels of a `redis+sentinel://` endpoint.
    public init(endpoint: Endpoint, asksUptime: Bool = false, tls: TLSContext? = nil, connectTimeout: Duration = .milliseconds(500), hostLookups: HostLookups = HostLookups()) {
        self.endpoint = endpoint
        self.hostLookups = hostLookups
        self.asksUptime = asksUptime
        self.tlsContext = tls
        self.connectTimeout = connectTimeout
    }

    deinit {
        resolver?.cancel()
        session?.shutdown()
        socket?.close()
    }

    /// Whether a socket is open (connected or connecting).
    public var isOpen: Bool { socket != nil }

    var descriptor: FileDescriptor? { isResolving ? resolver?.descriptor : lookingUp?.lookup.descriptor ?? socket }

    /// When the current step (asking one sentinel) has had its share of time.
    var stepDeadline: Instant? { isResolving ? resolver?.stepDeadline : nil }

    /// The current step missed `stepDeadline`: the next sentinel is asked.
    func stepTimedOut() {
        guard isResolving, let resolver else { return }
        resolver.stepTimedOut()
        afterResolving()
    }

    /// Starts a request: connects first when needed (with AUTH and SELECT pipelined ahead of
    /// `commands`), then queues `commands`. Returns whether a connection had to be opened.
    @discardableResult
    func begin(_ commands: [Command]) -> Bool {
        replies = []
        failure = nil
        repliesExpected = commands.count
        var opened = false
        if socket == nil && !isResolving && lookingUp == nil {
            opened = true
            do {
                try open()
            } catch {
                fail(error)
                return opened
            }
        }
        for command in commands { outbox += command.encoded }
        // On an open connection the request goes out now, not after a poll for writability
        // that would only say what a fresh socket buffer always is: one poll less per round.
        if socket != nil && !isStillConnecting { flush() }
        return opened
    }

    /// Whether the current request has all its replies, or has failed.
    var isFinished: Bool { failure != nil || (handshake.isEmpty && replies.count >= repliesExpected) }

    /// Asking sentinels, looking up the host, connecting or in the TLS handshake: still
    /// under `--connect-timeout`.
    var isStillConnecting: Bool { isResolving || lookingUp != nil || isConnecting || isHandshaking }

    private var isHandshaking: Bool { session.map { !$0.isHandshakeDone } ?? false }

    /// The TLS protocol of the open connection ("TLSv1.3"); nil without TLS.
    public var tlsProtocol: String? {
        guard let session, session.isHandshakeDone else { return nil }
        return session.protocolVersion
    }

    /// Whether replies have arrived that poll cannot see on the socket any more (OpenSSL
    /// decrypted and holds them).
    var hasBufferedInput: Bool { session?.hasBufferedInput ?? false }

    /// The events this connection waits for now.
    var wantedEvents: Poll.Events {
        guard socket != nil || isResolving || lookingUp != nil, !isFinished else { return [] }
        if isResolving { return resolver?.wantedEvents ?? [] }
        if lookingUp != nil { return .readable }
        if isConnecting { return [.readable, .writable] }
        if isHandshaking { return sessionWants.isEmpty ? [.readable, .writable] : sessionWants }
        var events: Poll.Events = .readable
        if outboxOffset < outbox.count { events.insert(.writable) }
        return events.union(sessionWants)
    }

    /// Acts on what poll reported for this connection's socket.
    func handle(_ events: Poll.Events) {
        guard !isFinished else { return }
        if isResolving, let resolver {
            resolver.handle(events)
            afterResolving()
            return
        }
        if lookingUp != nil {
            if !events.isEmpty { afterLookup() }
            return
        }
        guard let socket else { return }
        if isConnecting {
            guard !events.isEmpty else { return }
            if let error = StreamSocket.connectError(of: socket) {
                fail(connectionFailed(error.description))
                return
            }
            isConnecting = false
        }
        if let session, !session.isHandshakeDone {
            sessionWants = []
            switch session.handshake() {
            case .done: break
            case let .wants(events):
                sessionWants = events
                return
            case .closed:
                fail(.tls("handshake failed: connection closed by the server (is the port a TLS port?)"))
                return
            case let .failed(reason), let .broken(reason):
                fail(.tls(reason))
                return
            }
        }
        sessionWants = []
        if events.contains(.writable) || outboxOffset < outbox.count { flush() }
        // OpenSSL may hold decrypted bytes, or have wanted to write in order to read.
        if failure == nil && (session != nil || events.contains(.readable) || events.contains(.hangUp) || events.contains(.error)) {
            receive()
        }
    }

    /// Ends the current request: its replies, or why there are none.
    func finish() -> Result<[Reply], RedisError> {
        if let failure { return .failure(failure) }
        // A master that turned replica under a failover answers READONLY: drop it, so that
        // the next request asks the sentinels again.
        if case .sentinel = endpoint.address, replies.contains(where: { $0.errorMessage?.hasPrefix("READONLY") == true }) {
            close()
        }
        return .success(replies)
    }

    /// Gives up on the current request (its deadline passed); the socket is closed.
    func timeOut() {
        // In the TLS handshake, the usual cause is a plain-text server: it reads the
        // ClientHello as the start of an inline command and waits for the rest.
        let what = isResolving ? "asking the sentinels for '\(resolver?.master ?? "")'"
            : lookingUp != nil ? "looking up '\(lookingUp?.lookup.host ?? "")' (is the DNS server answering?)"
            : isConnecting ? "connecting" + (masterAddress.map { " to the master at \($0), as the sentinel said" } ?? "")
            : isHandshaking ? "in the TLS handshake (is the port a TLS port?)" : "waiting for a reply"
        fail(.timedOut(what))
    }

    /// Keeps the connection open for pushed messages once the current request (SUBSCRIBE)
    /// has its replies. It takes no further requests.
    func listen() { isListening = socket != nil && failure == nil }

    /// Reads whatever has arrived without blocking and returns the pushed messages; an empty
    /// result with `isListening` false means the connection was lost.
    func takePushed() -> [Reply] {
        guard isListening, socket != nil else { return [] }
        receive()
        let messages = pushed
        pushed = []
        return messages
    }

    /// Closes the socket; the next request reconnects.
    public func close() {
        isListening = false
        pushed = []
        resolver?.cancel()
        isResolving = false
        lookingUp = nil
        masterAddress = nil
        session?.shutdown()
        session = nil
        sessionWants = []
        socket?.close()
        socket = nil
        reader = ReplyReader()
        outbox = []
        outboxOffset = 0
        isConnecting = false
        handshake = []
    }

    private func fail(_ error: RedisError) {
        failure = scrubbed(error)
        close()
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

    // MARK: - Socket

    private func open() throws(RedisError) {
        guard case let .sentinel(sentinels, master) = endpoint.address else {
            try connect(to: endpoint.address)
            queueHandshake()
            return
        }
        // The handshake waits in the outbox until the master's socket exists.
        queueHandshake()
        let resolver = self.resolver ?? SentinelResolver(sentinels: sentinels, master: master, connectTimeout: connectTimeout, tls: endpoint.usesTLS ? tlsContext : nil, hostLookups: hostLookups)
        self.resolver = resolver
        isResolving = true
        resolver.start()
        afterResolving()
    }

    /// Connects to the master once the sentinels named it, or fails with their reasons.
    private func afterResolving() {
        guard isResolving, let outcome = resolver?.outcome else { return }
        isResolving = false
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
                lookingUp = (try hostLookups.lookup(host: host, port: port), target)
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
        guard let (lookup, target) = lookingUp, let outcome = lookup.outcome() else { return }
        lookingUp = nil
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
        do {
            (descriptor, isConnecting) = try StreamSocket.connect(to: address)
        } catch {
            throw connectionFailed(error.description)
        }
        socket = descriptor
        if endpoint.usesTLS {
            // The name to verify is the one connected to: for Sentinel, the master's address.
            guard let tlsContext, case let .tcp(host, _) = target else {
                close()
                throw .tls("is not configured for this connection")
            }
            do {
                session = try TLSSession(context: tlsContext, socket: descriptor, host: host)
            } catch {
                close()
                throw error
            }
        }
    }

    private func queueHandshake() {
        handshake = []
        if let password = endpoint.password {
            var arguments = [Array("AUTH".utf8)]
            if let username = endpoint.username { arguments.append(Array(username.utf8)) }
            arguments.append(Array(password.utf8))
            outbox += Command(arguments: arguments).encoded
            handshake.append("AUTH")
        }
        if endpoint.database != 0 {
            outbox += Command("SELECT", String(endpoint.database)).encoded
            handshake.append("SELECT")
        }
        serverUptime = nil
        if asksUptime {
            outbox += Command("INFO", "server").encoded
            handshake.append("INFO")
        }
        if case .sentinel = endpoint.address {
            outbox += Command("ROLE").encoded
            handshake.append("ROLE")
        }
    }

    private func flush() {
        guard let socket else { return }
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
        guard let socket else { return }
        while failure == nil {
            let result = readBuffer.withUnsafeMutableBytes { raw in read(into: raw, from: socket) }
            guard let count = bytesMoved(result) else { return }
            do throws(RedisError) {
                try reader.feed(Array(readBuffer[..<count]))
                while let reply = try reader.next() { accept(reply) }
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
        if let session { return transfer(session.write(bytes)) }
        do {
            return .moved(try socket.send(bytes))
        } catch {
            return error == .wouldBlock ? .wouldBlock : .failed(.connectionFailed(error.description))
        }
    }

    private func read(into buffer: UnsafeMutableRawBufferPointer, from socket: FileDescriptor) -> Transfer {
        if let session { return transfer(session.read(into: buffer)) }
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
        case let .failed(reason):
            return .failed(.tls(reason))
        case let .broken(reason):
            return .failed(.connectionFailed("TLS \(reason)"))
        }
    }

    private func accept(_ reply: Reply) {
        if !handshake.isEmpty {
            let command = handshake.removeFirst()
            if command == "INFO" {
                // A managed service may refuse INFO: then the uptime is simply unknown.
                if let text = reply.text, let seconds = ServerInfo(text)["uptime_in_seconds"].flatMap({ Int64($0) }) {
                    serverUptime = (.seconds(seconds), Instant.now())
                }
                return
            }
            if command == "ROLE", reply.errorMessage == nil {
                let role = reply.elements?.first?.text ?? "\(reply)"
                if role != "master", let masterAddress {
                    resolver?.distrustLastAnswer()
                    fail(.sentinel("the sentinels named \(masterAddress) the master, but it says it is a \(role) (a failover in progress?)"))
                }
                return
            }
            if case let .error(message) = reply {
                let error = RedisError(errorReply: message)
                // Any refusal of AUTH is an authentication failure, whatever its wording.
                fail(command == "AUTH" && !error.isAccessDenied ? .authenticationFailed(message) : error)
            }
            return
        }
        if replies.count < repliesExpected {
            replies.append(reply)
        } else if isListening {
            pushed.append(reply)
        } else {
            fail(.unexpectedReply("more replies than requests"))
        }
    }
}
