/// The N independent Redis instances of the quorum, and rounds of requests over them.
///
/// A round sends each instance its request at once and waits for the replies under one
/// deadline with a single poll loop: no thread per request, and a dead, paused or slow
/// instance costs the round at most its timeout. A round given a decision ends soon after
/// the answers so far decide it: one hung instance of three then costs nothing measurable.
public final class InstanceSet {
    public let endpoints: [Endpoint]
    public let connectTimeout: Duration
    public let operationTimeout: Duration
    /// The TLS settings of the `rediss://` endpoints (nil when there are none).
    public let tls: TLSContext?
    /// The host name lookups at work, shared by every connection of the set across rounds
    /// (and with another set made with `hostLookups:` this one's).
    public let hostLookups: HostLookups
    private let connections: [any InstanceLink]
    /// Instances that did not answer their last round (timed out, or let go on a connection
    /// that had to be closed): once a round is decided they are not waited for again, until
    /// one answers. An instance let go on a connection that stays open is not marked: it
    /// counts as unresponsive while it owes the replies (`owesReplies`), and no longer.
    private var unresponsive: Set<Int> = []

    /// One instance's part in a finished round, for `-v` logs.
    public struct RoundReport: Sendable {
        public let label: String
        public let outcomes: [(endpoint: Endpoint, elapsed: Duration, error: RedisError?)]
    }

    /// Told about every round when set: how `-v` shows each instance's round trip.
    public var observer: ((RoundReport) -> Void)?

    /// Every new connection asks INFO server replication in its handshake (one command,
    /// `HandshakeStep.describeServerAndRole`), pipelined ahead of its first request (no
    /// extra round trip): the server's run_id (one server, one vote), its uptime
    /// (`--restart-grace`) and whether it is a master (a replica never votes).
    /// `tracksUptime` asks the nodes of a Redis Cluster for INFO too.
    /// `identifiesServers`: whether the handshake asks that INFO. A set that only listens
    /// (the waiters' subscriptions, racing or in line) votes on nothing and skips it: a
    /// command less per connection and waiter, which `make bench`'s Redis load rows count.
    public init(endpoints: [Endpoint], connectTimeout: Duration, operationTimeout: Duration, tracksUptime: Bool = false, tls: TLSContext? = nil, hostLookups: HostLookups = HostLookups(), identifiesServers: Bool = true) {
        self.endpoints = endpoints
        self.hostLookups = hostLookups
        self.connectTimeout = connectTimeout
        self.operationTimeout = operationTimeout
        self.tls = tls
        connections = endpoints.map { endpoint -> any InstanceLink in
            if case .cluster = endpoint.address {
                return ClusterLink(endpoint: endpoint, asksUptime: tracksUptime, tls: tls, connectTimeout: connectTimeout, hostLookups: hostLookups)
            }
            return Connection(endpoint: endpoint, describesServer: identifiesServers, checksRole: identifiesServers, tls: tls, connectTimeout: connectTimeout, hostLookups: hostLookups)
        }
    }

    public var count: Int { endpoints.count }

    /// Sends `requests[i]` (a pipeline of commands) to instance i, or nothing where it is nil,
    /// and returns each instance's replies or failure (nil where nothing was sent).
    ///
    /// Every instance must answer by `deadline` (default: now + `--op-timeout`); an instance
    /// that first has to connect gets `--connect-timeout` for the connection on top. Nothing
    /// waits past `notAfter`, whatever the timeouts (the lease keeper's next duty).
    ///
    /// With `decided`, the round ends once it returns true for the results so far (nil where
    /// an instance has not answered yet), after a quarter as long again for the others. An instance
    /// still in flight then is let go (`Connection.letGo`) and counts as not answered: an
    /// open connection whose request is out stays, and drops the late replies when they
    /// come (the next request follows the one let go, in order); any other is closed, and
    /// the next round reconnects.
    public func round(_ requests: [[Command]?], deadline: Instant? = nil, notAfter: Instant? = nil, label: String? = nil, decided: (([Result<[Reply], RedisError>?]) -> Bool)? = nil, patience: Patience = .brief, followUp: ((Int, Result<[Reply], RedisError>) -> [Command]?)? = nil) -> [Result<[Reply], RedisError>?] {
        timedRound(requests, deadline: deadline, notAfter: notAfter, label: label, decided: decided, patience: patience, followUp: followUp).map { $0?.result }
    }

    /// What an instance let go by a decided round counts as: it had its grace and did not
    /// answer in it.
    public static let abandoned = RedisError.notWaitedFor("the others decided the round first")
    /// What an instance let go at once by a decided round counts as: it has not answered an
    /// earlier request yet (or did not answer its last round), so it got no grace.
    public static let stillSilent = RedisError.notWaitedFor("no reply yet to an earlier request")

    /// `round`, with how long each instance took to answer (connecting included).
    ///
    /// `followUp`, asked about each instance's result as it arrives, may return a new
    /// request for that instance, sent at once in the same round (given `--op-timeout` more):
    /// a script the instance has not cached is sent whole without waiting for the others.
    public func timedRound(_ requests: [[Command]?], deadline: Instant? = nil, notAfter: Instant? = nil, label: String? = nil, decided: (([Result<[Reply], RedisError>?]) -> Bool)? = nil, patience: Patience = .brief, followUp: ((Int, Result<[Reply], RedisError>) -> [Command]?)? = nil) -> [(result: Result<[Reply], RedisError>, elapsed: Duration)?] {
        precondition(requests.count == connections.count)
        let start = Instant.now()
        let cap = notAfter ?? .distantFuture
        let requestDeadline = deadline ?? start + operationTimeout
        var deadlines: [Instant] = Array(repeating: min(requestDeadline, cap), count: connections.count)
        var connectDeadlines: [Instant] = Array(repeating: .distantFuture, count: connections.count)
        var active: [Int] = []
        var finishedAt: [Instant] = Array(repeating: start, count: connections.count)
        // Each instance's result, taken once as it finishes.
        var results: [Result<[Reply], RedisError>?] = Array(repeating: nil, count: connections.count)
        // Once decided, the others get a little more time (`patience`): an instance a little
        // slower than the rest still answers, and holds what the rest hold. One that did not
        // answer its last round gets nothing: a hung instance costs one round this much, and
        // then no more. What is still in flight then is abandoned.
        var abandonAt: Instant?
        // Did not answer its last round, or has not yet answered a request it was let go with.
        func isUnresponsive(_ index: Int) -> Bool { unresponsive.contains(index) || connections[index].owesReplies }
        for (index, request) in requests.enumerated() {
            guard let request else { continue }
            if connections[index].begin(request) {
                // Through Sentinel or Cluster, connecting is two steps: asking where (the
                // sentinels, or a seed node for the slot map, sharing one --connect-timeout),
                // then connecting there.
                let connecting: Duration
                switch endpoints[index].address {
                case .sentinel, .cluster: connecting = connectTimeout * 2
                case .tcp, .unix: connecting = connectTimeout
                }
                deadlines[index] = min(requestDeadline + connecting, cap)
                connectDeadlines[index] = min(start + connecting, cap)
            }
            active.append(index)
        }
        if let decided, decided(results) { abandonAt = start }
        while true {
            let now = Instant.now()
            let graceOver = abandonAt.map { now >= $0 } ?? false
            var someFinished = false
            active.removeAll { index in
                let connection = connections[index]
                finishedAt[index] = now
                if let step = connection.stepDeadline, now >= step { connection.stepTimedOut() }
                let limit = connection.isStillConnecting ? min(connectDeadlines[index], deadlines[index]) : deadlines[index]
                let abandoning = abandonAt != nil && (graceOver || isUnresponsive(index))
                if !connection.isFinished {
                    if abandoning {
                        let silentBefore = isUnresponsive(index)
                        // An open connection stays, owing the reply: until it comes, the
                        // instance counts as unresponsive without being marked.
                        connection.letGo()
                        if connection.owesReplies { unresponsive.remove(index) } else { unresponsive.insert(index) }
                        results[index] = .failure(silentBefore ? Self.stillSilent : Self.abandoned)
                        return true
                    }
                    guard now >= limit else { return false }
                    connection.timeOut()
                    unresponsive.insert(index)
                } else {
                    unresponsive.remove(index)
                }
                let result = connection.finish()
                if !graceOver, let followUp, let next = followUp(index, result) {
                    // A follow-up goes on the open connection; should it have had to connect
                    // again, it gets the time to connect as well.
                    let reconnected = connection.begin(next)
                    deadlines[index] = min(max(deadlines[index], now + operationTimeout + (reconnected ? connectTimeout : .zero)), cap)
                    return false
                }
                results[index] = result
                someFinished = true
                return true
            }
            if active.isEmpty { break }
            if abandonAt == nil, someFinished, let decided, decided(results) {
                abandonAt = patience.grace(afterDecidingIn: now - start).map { now + $0 } ?? .distantFuture
                // The unresponsive are let go at once.
                if active.contains(where: isUnresponsive) { continue }
            }
            var watched: [(FileDescriptor, Poll.Events)] = []
            var owners: [(index: Int, range: Range<Int>)] = []
            var nextDeadline = Instant.distantFuture
            for index in active {
                let connection = connections[index]
                nextDeadline = min(nextDeadline, connection.isStillConnecting ? min(connectDeadlines[index], deadlines[index]) : deadlines[index])
                if let step = connection.stepDeadline { nextDeadline = min(nextDeadline, step) }
                let requests = connection.pollRequests()
                guard !requests.isEmpty else { continue }
                owners.append((index, watched.count..<(watched.count + requests.count)))
                watched += requests
            }
            if let abandonAt { nextDeadline = min(nextDeadline, abandonAt) }
            let events = Poll.wait(watched, timeout: nextDeadline.remaining(from: now))
            for owner in owners {
                connections[owner.index].handle(Array(events[owner.range]))
            }
        }
        // Labelled as the result type is: an unlabelled tuple would be converted element by
        // element with a dynamic cast.
        let outcomes: [(result: Result<[Reply], RedisError>, elapsed: Duration)?] = requests.indices.map { index in
            requests[index] == nil ? nil : (result: results[index] ?? .failure(Self.abandoned), elapsed: finishedAt[index] - start)
        }
        if let observer {
            let name = label ?? requests.lazy.compactMap { $0?.first?.name }.first ?? "round"
            observer(RoundReport(label: name, outcomes: outcomes.enumerated().compactMap { index, outcome in
                guard let outcome else { return nil }
                let error: RedisError?
                switch outcome.result {
                case let .failure(failure): error = failure
                // The last reply is the request's own (a script's, after its SCRIPT LOAD).
                case let .success(replies): error = replies.last?.errorMessage.map { RedisError(errorReply: $0) }
                }
                return (endpoints[index], outcome.elapsed, error)
            }))
        }
        return outcomes
    }

    /// How long instance `index` has been up, from INFO at connection time plus the time
    /// since; nil when unknown (not connected yet, or INFO refused). Only tracked when the
    /// set was made with `tracksUptime`.
    public func uptime(of index: Int, now: Instant = .now()) -> Duration? {
        connections[index].serverUptime.map { $0.seconds + (now - $0.measuredAt) }
    }

    /// The TLS protocol instance `index` is connected with ("TLSv1.3"); nil when it is not
    /// connected or not TLS.
    public func tlsProtocol(of index: Int) -> String? {
        connections[index].tlsProtocol
    }

    /// The master's address for a `redis+sentinel://` instance, as its sentinels gave it;
    /// nil when not connected or not through Sentinel.
    public func masterAddress(of index: Int) -> HostPort? {
        connections[index].masterAddress
    }

    /// The masters of a `redis+cluster://` instance as its slot map names them; nil for
    /// other instances or before the map is known.
    public func clusterMasters(of index: Int) -> [HostPort]? {
        connections[index].clusterMasters
    }

    /// Sends one command to every instance.
    public func broadcast(_ command: Command, deadline: Instant? = nil) -> [Result<Reply, RedisError>] {
        round(Array(repeating: [command], count: count), deadline: deadline).map { Self.single($0!) }
    }

    /// Runs `script` on the instances given (all by default) by SHA1, on a connection that
    /// opens for it after loading it (SCRIPT LOAD, in the same write). Where an instance
    /// answers that it has not cached it, the same round loads it and runs it again, and
    /// sends it whole (EVAL) where loading did not help.
    ///
    /// A new connection may reach a server that is new or was restarted, with no script
    /// cached: by SHA1 alone it would take a second round trip (NOSCRIPT, then the script),
    /// and a round decided by the others meanwhile would leave that instance without the
    /// write (a restarted server never got the lock, a `--once` mark or a renewal's take).
    /// Loaded in the same write, the one request does it, even when the round is decided
    /// before its reply. It costs a few KB on the wire and the server hashing them. Loading
    /// rather than EVAL keeps EVALSHA in every first request, so a server that refuses it
    /// fails the first round, not a renewal; a server that refuses SCRIPT gets EVAL after
    /// NOSCRIPT, as before.
    ///
    /// With `decided` (over the results so far), the round ends as soon as it returns true.
    public func evaluate(_ script: LuaScript, keys: [[UInt8]], arguments: [[UInt8]], on instances: [Int]? = nil, notAfter: Instant? = nil, decided: (([Result<Reply, RedisError>?]) -> Bool)? = nil, patience: Patience = .brief) -> [Result<Reply, RedisError>?] {
        // Each form is encoded once, for every instance that gets it, and only when one does
        // (the script's source is a few KB: copying it into every request would cost an open
        // connection's round more than the server takes to run it).
        let bySHA = [script.evalSHA(keys: keys, arguments: arguments)]
        var loaded: [Command]?
        func loadedFirst() -> [Command] {
            if let loaded { return loaded }
            let request = [script.load] + bySHA
            loaded = request
            return request
        }
        var requests = requests(bySHA, on: instances)
        // The instances whose request loads the script already (empty on open connections:
        // no allocation on the common path).
        var loads: Set<Int> = []
        for index in requests.indices where requests[index] != nil && connections[index].loadsScriptsFirst {
            requests[index] = loadedFirst()
            loads.insert(index)
        }
        var wholeScript: [Command]?
        // `single` reads a request's last reply: the script's, after SCRIPT LOAD's.
        let results = round(requests, notAfter: notAfter, label: script.name, decided: decided.map { decided in
            { partial in decided(partial.map { $0.map(Self.single) }) }
        }, patience: patience, followUp: { index, result in
            guard case .failure(.noScript) = Self.single(result) else { return nil }
            // SCRIPT LOAD names no key: a Redis Cluster would route it to some node, not the
            // one that runs the script.
            let cluster: Bool
            if case .cluster = self.endpoints[index].address { cluster = true } else { cluster = false }
            if !cluster && loads.insert(index).inserted { return loadedFirst() }
            // SCRIPT refused (renamed, or denied by an ACL): the whole script, then.
            if wholeScript == nil { wholeScript = [script.eval(keys: keys, arguments: arguments)] }
            return wholeScript
        })
        return results.map { $0.map(Self.single) }
    }

    // MARK: - Pub/sub

    /// Subscribes the connections of the instances given (all by default) to `channel` (one
    /// round) and keeps them for messages only. Returns how many instances are listening.
    @discardableResult
    public func subscribe(to channel: [UInt8], on instances: [Int]? = nil) -> Int {
        let results = round(requests([Command("SUBSCRIBE", [channel])], on: instances))
        for (index, result) in results.enumerated() {
            if case .success? = result { connections[index].listen() }
        }
        return connections.filter(\.isListening).count
    }

    /// The instances whose connection is not (or no longer) listening.
    public var deafInstances: [Int] {
        connections.indices.filter { !connections[$0].isListening }
    }

    /// The sockets of the listening connections, for the caller's poll.
    public var listeningDescriptors: [FileDescriptor] {
        connections.flatMap(\.listeningDescriptors)
    }

    /// Whether a listening connection holds bytes that poll cannot see (decrypted by TLS
    /// already): the caller must not sleep before `takeMessages`.
    public var hasBufferedMessages: Bool {
        connections.contains { $0.isListening && $0.hasBufferedInput }
    }

    /// How many messages have arrived since the last call (reads without blocking).
    public func takeMessages() -> Int {
        connections.reduce(0) { total, connection in
            total + connection.takePushed().filter(Self.isMessage).count
        }
    }

    /// The instances a message arrived from since the last call (reads without blocking):
    /// each instance announces a release as it lands there, so a waiter can tell a
    /// quorum's announcements from the first one's. (An array, in instance order: this
    /// runs on a hand-off's clock, and a set would be built and hashed for two or three.)
    public func takeMessagesByInstance() -> [Int] {
        connections.indices.filter { index in
            connections[index].takePushed().contains(where: Self.isMessage)
        }
    }

    /// Whether a pushed reply is a published message ("message", channel, payload),
    /// compared as bytes.
    private static func isMessage(_ reply: Reply) -> Bool {
        guard case let .bulk(kind)? = reply.elements?.first else { return false }
        return kind.elementsEqual("message".utf8)
    }

    /// Closes every connection (the instances see a clean disconnect).
    public func closeAll() {
        // An instance that owes replies has not answered its last request: closing forgets
        // that, so it is marked.
        for index in connections.indices where connections[index].owesReplies { unresponsive.insert(index) }
        connections.forEach { $0.close() }
    }

    /// `request` for each of `instances` (all when nil), nothing for the others: a round's
    /// requests.
    private func requests(_ request: [Command], on instances: [Int]?) -> [[Command]?] {
        guard let instances else { return Array(repeating: request, count: count) }
        var requests: [[Command]?] = Array(repeating: nil, count: count)
        for index in instances { requests[index] = request }
        return requests
    }

    /// A one-command pipeline's reply (or the last of a script's SCRIPT LOAD and EVALSHA),
    /// with an error reply turned into a typed error.
    static func single(_ result: Result<[Reply], RedisError>) -> Result<Reply, RedisError> {
        switch result {
        case let .failure(error): return .failure(error)
        case let .success(replies):
            guard let reply = replies.last else { return .failure(.unexpectedReply("no reply")) }
            if case let .error(message) = reply { return .failure(RedisError(errorReply: message)) }
            return .success(reply)
        }
    }
}

// MARK: - Which server each instance is (one server, one vote)

extension InstanceSet {
    /// The INFO run_id of the server instance `index` is connected to, from its handshake;
    /// nil before it connected, when INFO was refused, or for a Redis Cluster.
    public func serverIdentity(of index: Int) -> String? {
        connections[index].serverRunID
    }

    /// What the server of instance `index` answered ROLE in its handshake; nil when unknown.
    /// An instance that is not a master fails every request (`RedisError.misconfigured`).
    public func role(of index: Int) -> ServerRole? {
        connections[index].serverRole
    }

    /// The pairs of instances (i < j) that reached the same server (the same run_id),
    /// however their URLs spell it: `localhost` and `127.0.0.1`, a unix socket and TCP,
    /// `/0` and `/1`. Such a server would vote twice. Known for the instances that have
    /// connected: ask after a round.
    public func duplicateIdentities() -> [(Int, Int)] {
        // A handful of instances: comparing each with those before it costs less than
        // hashing, and this runs between taking the lock and starting COMMAND.
        var pairs: [(Int, Int)] = []
        for index in connections.indices {
            guard let identity = connections[index].serverRunID else { continue }
            if let first = connections.indices.prefix(index).first(where: { connections[$0].serverRunID == identity }) {
                pairs.append((first, index))
            }
        }
        return pairs
    }
}

/// How long a round that is decided still waits for the instances that have not answered.
public enum Patience: Sendable {
    /// A quarter of the time the deciding answers took, at least 0.1 ms: for acquiring,
    /// which a user waits on. "As long again", first chosen, made one hung instance cost a
    /// `run -- true` 15-20% in make bench, where the target is 10%. A new connection's request
    /// is written whole at once (the script loaded in the same write), so an instance let
    /// go still runs it.
    case brief
    /// Every instance that answered the round before gets until the round's deadline: for
    /// renewals, releases, and the writes that end a run (a `--min-hold` keep, a `--once`
    /// mark). An instance left out of a renewal keeps the old TTL and drops the key before
    /// the others; a release abandoned on its way can go down with its connection, and that
    /// instance keeps the key until its TTL (one 40 ms slower than the rest did, every time);
    /// under load on 2 cores, a healthy instance often answers a millisecond after the
    /// others. A hung instance costs one round its deadline at most: it did not answer that
    /// round, and is let go at once from the next on.
    case complete

    /// How long the others get once the outcome is decided; nil: until their deadline.
    func grace(afterDecidingIn elapsed: Duration) -> Duration? {
        switch self {
        case .brief: return max(elapsed / 4, .microseconds(100))
        case .complete: return nil
        }
    }
}
