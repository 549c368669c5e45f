/// One Redis Cluster as one instance of the quorum (`redis+cluster://`).
///
/// The cluster's slot map comes from CLUSTER SLOTS, asked of the seed nodes in turn (each
/// with an equal share of `--connect-timeout`). A request's commands go to the masters that
/// own their keys' slots, one pipeline per node, all in the caller's poll loop; the replies
/// come back in the request's order. A MOVED reply re-sends the command to the node it
/// names and has the map learned again before the next request; an ASK reply re-sends it
/// once, after ASKING, without changing the map. Commands without a key go to one node
/// (pub/sub messages reach every node of a cluster), except SCAN, which walks every
/// master in turn behind a cursor of its own ("<master>:<cursor>"), so `inspect PATTERN`
/// sees the whole keyspace.
final class ClusterLink: InstanceLink {
    let endpoint: Endpoint
    private let seeds: [HostPort]
    private let asksUptime: Bool
    private let connectTimeout: Duration
    /// For `rediss+cluster://`: every node is reached over TLS.
    private let tls: TLSContext?
    /// The owner of each slot; empty until learned.
    private var owners: [HostPort?] = []
    private var masters: [HostPort] = []
    private var mapIsStale = true
    private var nodes: [HostPort: Connection] = [:]

    /// One node's part of a request: which commands, and which went after ASKING.
    private struct Batch {
        let node: HostPort
        let connection: Connection
        let entries: [(index: Int, asking: Bool)]
    }

    /// Learning the slot map: the nodes left to ask, and the reasons of those asked so far.
    private struct MapSearch {
        var candidates: [HostPort]
        var failures: [String] = []
        /// The first failure, when every node asked failed in a way retrying cannot cure.
        var permanentFailure: RedisError?
        var onlyPermanentFailures = true
    }

    /// The node being asked for the slot map, and when its share of the time is up.
    private struct MapQuestion {
        let node: HostPort
        let connection: Connection
        let deadline: Instant
    }

    private enum State {
        /// No request under way (or closed mid-way).
        case idle
        /// Asking the nodes for CLUSTER SLOTS in turn, before the request can be routed.
        case learningMap(MapSearch, asking: MapQuestion)
        /// The request's commands are at their nodes, one pipeline per node.
        case routing([Batch])
        /// Every command of the request has its reply.
        case done
        case failed(RedisError)
    }

    private var state: State = .idle
    private var commands: [Command] = []
    private var replies: [Reply?] = []
    private var redirects = 0
    /// SCAN commands of the request: the master each one went to.
    private var scanMasters: [Int: Int] = [:]
    private var polled: [Connection] = []
    private var listeningNode: HostPort?

    private let hostLookups: HostLookups

    init(endpoint: Endpoint, asksUptime: Bool, tls: TLSContext?, connectTimeout: Duration, hostLookups: HostLookups = HostLookups()) {
        self.hostLookups = hostLookups
        guard case let .cluster(seeds) = endpoint.address else { preconditionFailure("not a cluster endpoint") }
        self.endpoint = endpoint
        self.seeds = seeds
        self.asksUptime = asksUptime
        self.connectTimeout = connectTimeout
        self.tls = tls
    }

    deinit { nodes.values.forEach { $0.close() } }

    /// A request may be spread over several nodes: given up, as by a timeout.
    func letGo() { timeOut() }
    var owesReplies: Bool { false }

    // MARK: - A request

    func begin(_ commands: [Command]) -> Bool {
        self.commands = commands
        replies = Array(repeating: nil, count: commands.count)
        state = .idle
        redirects = 0
        scanMasters = [:]
        let opened: Bool
        if mapIsStale || owners.isEmpty {
            startLearning()
            opened = true
        } else {
            opened = dispatch(commands.indices.map { ($0, nil) })
        }
        advance()
        return opened
    }

    /// Its nodes' connections open as a request is routed: scripts go by SHA1 first.
    var loadsScriptsFirst: Bool { false }

    var isFinished: Bool {
        switch state {
        case .done, .failed: return true
        case .idle, .learningMap, .routing: return false
        }
    }

    var isStillConnecting: Bool {
        switch state {
        case .learningMap: return true
        case let .routing(batches): return batches.contains { !$0.connection.isFinished && $0.connection.isStillConnecting }
        case .idle, .done, .failed: return false
        }
    }

    func pollRequests() -> [(FileDescriptor, Poll.Events)] {
        polled = []
        var requests: [(FileDescriptor, Poll.Events)] = []
        let active: [Connection]
        switch state {
        case let .learningMap(_, asking): active = [asking.connection]
        case let .routing(batches): active = batches.map(\.connection).filter { !$0.isFinished }
        case .idle, .done, .failed: active = []
        }
        for connection in active {
            for request in connection.pollRequests() {
                requests.append(request)
                polled.append(connection)
            }
        }
        return requests
    }

    func handle(_ events: [Poll.Events]) {
        for (connection, event) in zip(polled, events) { connection.handle(event) }
        polled = []
        advance()
    }

    var stepDeadline: Instant? {
        guard case let .learningMap(_, asking) = state else { return nil }
        return asking.deadline
    }

    func stepTimedOut() {
        guard case let .learningMap(_, asking) = state else { return }
        asking.connection.timeOut()
        advance()
    }

    func finish() -> Result<[Reply], RedisError> {
        if case let .failed(error) = state { return .failure(error) }
        return .success(replies.map { $0 ?? .null })
    }

    func timeOut() {
        switch state {
        case let .learningMap(_, asking):
            asking.connection.timeOut()
            state = .failed(.timedOut("asking \(asking.node) for the cluster's slot map"))
        case let .routing(batches):
            let late = batches.filter { !$0.connection.isFinished }
            late.forEach { $0.connection.timeOut() }
            state = .failed(.timedOut("waiting for a reply from node \(late.first.map(\.node.description) ?? "?")"))
            mapIsStale = true
        case .idle:
            state = .failed(.timedOut("waiting for a reply"))
            mapIsStale = true
        case .done, .failed:
            break
        }
    }

    func close() {
        nodes.values.forEach { $0.close() }
        switch state {
        case .learningMap, .routing: state = .idle
        case .idle, .done, .failed: break
        }
        listeningNode = nil
    }

    // MARK: - The slot map

    private func startLearning() {
        // Known masters first (the map may only have moved), then the URL's seeds.
        askNext(MapSearch(candidates: masters + seeds.filter { !masters.contains($0) }))
    }

    private func askNext(_ search: MapSearch) {
        var search = search
        guard !search.candidates.isEmpty else {
            if search.onlyPermanentFailures, let permanentFailure = search.permanentFailure {
                // Every node refused our TLS or credentials: waiting will not change that.
                state = .failed(permanentFailure)
            } else {
                state = .failed(.connectionFailed("no node gave the cluster's slot map (\(search.failures.joined(separator: "; ")))"))
            }
            return
        }
        let node = search.candidates.removeFirst()
        let connection = self.connection(to: node)
        connection.begin([Command("CLUSTER", "SLOTS")])
        let share = max(.milliseconds(1), connectTimeout / max(1, search.candidates.count + 1))
        state = .learningMap(search, asking: MapQuestion(node: node, connection: connection, deadline: Instant.now() + share))
    }

    private func concludeLearning(_ search: MapSearch, _ asked: MapQuestion) {
        var search = search
        let node = asked.node
        switch InstanceSet.single(asked.connection.finish()) {
        case let .success(reply):
            if let map = Self.slotMap(reply, askedNode: node) {
                owners = map.owners
                masters = map.masters
                mapIsStale = false
                _ = dispatch(commands.indices.filter { replies[$0] == nil }.map { ($0, nil) })
                return
            }
            search.failures.append("\(node): unexpected CLUSTER SLOTS reply (is it a cluster node?)")
            search.onlyPermanentFailures = false
        case let .failure(error):
            if error.isAccessDenied {
                // A refused password is refused by every node: say so, not "no map".
                state = .failed(error)
                return
            }
            search.failures.append("\(node): \(error)")
            if error.isPermanent {
                search.permanentFailure = search.permanentFailure ?? Self.naming(node, in: error)
            } else {
                search.onlyPermanentFailures = false
            }
        }
        askNext(search)
    }

    /// The owners of all slots and the masters in the order of their first slots, from a
    /// CLUSTER SLOTS reply; nil when it is not one.
    static func slotMap(_ reply: Reply, askedNode: HostPort) -> (owners: [HostPort?], masters: [HostPort])? {
        guard let ranges = reply.elements else { return nil }
        var owners: [HostPort?] = Array(repeating: nil, count: ClusterSlot.count)
        var masters: [HostPort] = []
        for range in ranges {
            guard let items = range.elements, items.count >= 3,
                  let first = items[0].integer, let last = items[1].integer,
                  first >= 0, last < ClusterSlot.count, first <= last,
                  let node = items[2].elements, node.count >= 2,
                  let port = node[1].integer.flatMap({ UInt16(exactly: $0) }) else { return nil }
            // An empty host (or "?") means "the address you reached me at".
            let host = node[0].text.flatMap { $0.isEmpty || $0 == "?" ? nil : $0 } ?? askedNode.host
            let master = HostPort(host: host, port: port)
            for slot in Int(first)...Int(last) { owners[slot] = master }
            if !masters.contains(master) { masters.append(master) }
        }
        return masters.isEmpty ? nil : (owners, masters)
    }

    // MARK: - Routing

    /// Sends the commands at `indices` to their nodes (`target` when a redirect named one).
    /// Returns whether a connection had to be opened.
    private func dispatch(_ work: [(index: Int, target: (node: HostPort, asking: Bool)?)]) -> Bool {
        var plan: [HostPort: [(index: Int, asking: Bool, command: Command)]] = [:]
        var order: [HostPort] = []
        for (index, target) in work {
            var command = commands[index]
            let node: HostPort
            var asking = false
            if let target {
                node = target.node
                asking = target.asking
            } else if command.name == "SCAN" {
                let (master, cursor) = Self.scanCursor(command)
                guard master < masters.count else {
                    replies[index] = .array([.bulk(Array("0".utf8)), .array([])])
                    continue
                }
                scanMasters[index] = master
                command = Command(arguments: [command.arguments[0], Array(cursor.utf8)] + command.arguments.dropFirst(2))
                node = masters[master]
            } else if let key = Self.routingKey(command) {
                let slot = ClusterSlot.of(key)
                guard let owner = owners[slot] else {
                    replies[index] = .error("CLUSTERDOWN Hash slot \(slot) is not served (as CLUSTER SLOTS says)")
                    continue
                }
                node = owner
            } else {
                node = masters.first ?? seeds[0]
            }
            if plan[node] == nil { order.append(node) }
            plan[node, default: []].append((index, asking, command))
        }
        var opened = false
        let batches = order.map { node in
            let entries = plan[node]!
            let connection = self.connection(to: node)
            let pipeline = entries.flatMap { $0.asking ? [Command("ASKING"), $0.command] : [$0.command] }
            if connection.begin(pipeline) { opened = true }
            return Batch(node: node, connection: connection, entries: entries.map { ($0.index, $0.asking) })
        }
        state = batches.isEmpty ? .done : .routing(batches)
        return opened
    }

    /// Moves the request on after any progress: the map learned, or every node answered.
    private func advance() {
        while true {
            switch state {
            case let .learningMap(search, asking):
                guard asking.connection.isFinished else { return }
                concludeLearning(search, asking)
            case let .routing(batches):
                guard batches.allSatisfy({ $0.connection.isFinished }) else { return }
                collect(batches)
            case .idle, .done, .failed:
                return
            }
        }
    }

    private func collect(_ batches: [Batch]) {
        var again: [(index: Int, target: (node: HostPort, asking: Bool)?)] = []
        for batch in batches {
            switch batch.connection.finish() {
            case let .failure(error):
                // The node may be gone or demoted: learn the map again next time.
                mapIsStale = true
                state = .failed(Self.naming(batch.node, in: error))
                return
            case let .success(pipelineReplies):
                var position = 0
                for entry in batch.entries {
                    if entry.asking { position += 1 }
                    guard position < pipelineReplies.count else { break }
                    let reply = pipelineReplies[position]
                    position += 1
                    if let redirect = Self.redirect(reply), redirects < 5 {
                        if !redirect.asking {
                            owners[redirect.slot] = redirect.node
                            mapIsStale = true
                        }
                        again.append((entry.index, (redirect.node, redirect.asking)))
                    } else if let master = scanMasters[entry.index] {
                        replies[entry.index] = scanReply(reply, from: master)
                    } else {
                        replies[entry.index] = reply
                    }
                }
            }
        }
        if again.isEmpty {
            state = .done
        } else {
            redirects += 1
            _ = dispatch(again)
        }
    }

    /// The key a command's slot is computed from; nil for commands without a key.
    static func routingKey(_ command: Command) -> [UInt8]? {
        let arguments = command.arguments
        switch command.name {
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
            guard arguments.count > 3, let count = Int(String(decoding: arguments[2], as: UTF8.self)), count > 0 else { return nil }
            return arguments[3]
        case "GET", "SET", "DEL", "UNLINK", "EXISTS", "PTTL", "TTL", "TYPE", "PEXPIRE", "EXPIRE", "INCR", "INCRBY":
            return arguments.count > 1 ? arguments[1] : nil
        default:
            return nil
        }
    }

    /// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381".
    static func redirect(_ reply: Reply) -> (slot: Int, node: HostPort, asking: Bool)? {
        guard let message = reply.errorMessage else { return nil }
        let words = message.split(separator: " ")
        guard words.count == 3, words[0] == "MOVED" || words[0] == "ASK",
              let slot = Int(words[1]), slot >= 0, slot < ClusterSlot.count,
              let colon = words[2].lastIndex(of: ":"), let port = UInt16(words[2][words[2].index(after: colon)...]) else { return nil }
        var host = String(words[2][..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (slot, HostPort(host: host, port: port), words[0] == "ASK")
    }

    /// The cluster-wide cursor of a SCAN as (master index, that master's cursor).
    static func scanCursor(_ command: Command) -> (Int, String) {
        let text = command.arguments.count > 1 ? String(decoding: command.arguments[1], as: UTF8.self) : "0"
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let master = Int(parts[0]), master >= 0 else { return (0, text) }
        return (master, String(parts[1]))
    }

    /// A master's SCAN reply with its cursor made cluster-wide: the next master starts
    /// where one ends, and "0" comes only after the last.
    private func scanReply(_ reply: Reply, from master: Int) -> Reply {
        guard let items = reply.elements, items.count == 2, let cursor = items[0].text else { return reply }
        let next: String
        if cursor != "0" {
            next = "\(master):\(cursor)"
        } else if master + 1 < masters.count {
            next = "\(master + 1):0"
        } else {
            next = "0"
        }
        return .array([.bulk(Array(next.utf8)), items[1]])
    }

    /// The error, saying which node it came from where the text allows.
    static func naming(_ node: HostPort, in error: RedisError) -> RedisError {
        switch error {
        case let .connectionFailed(reason): return .connectionFailed("\(reason) (node \(node))")
        case let .timedOut(what): return .timedOut("\(what) from node \(node)")
        case .connectionClosed: return .connectionFailed("node \(node) closed the connection")
        case let .tls(reason, remedy): return .tls("\(reason) (node \(node))", remedy: remedy)
        default: return error
        }
    }

    private func connection(to node: HostPort) -> Connection {
        if let existing = nodes[node] { return existing }
        let connection = Connection(
            endpoint: Endpoint(address: .tcp(host: node.host, port: node.port), username: endpoint.username, password: endpoint.password, usesTLS: endpoint.usesTLS),
            asksUptime: asksUptime, tls: tls, connectTimeout: connectTimeout, hostLookups: hostLookups)
        nodes[node] = connection
        return connection
    }

    // MARK: - Pub/sub and facts

    func listen() {
        guard let node = masters.first, let connection = nodes[node] else { return }
        connection.listen()
        listeningNode = connection.isListening ? node : nil
    }

    private var listener: Connection? { listeningNode.flatMap { nodes[$0] } }

    var isListening: Bool { listener?.isListening ?? false }

    var listeningDescriptors: [FileDescriptor] { listener?.listeningDescriptors ?? [] }

    func takePushed() -> [Reply] { listener?.takePushed() ?? [] }

    var hasBufferedInput: Bool { false }

    /// The shortest uptime among the nodes connected: any of them may own the key.
    var serverUptime: (seconds: Duration, measuredAt: Instant)? {
        // Compared at one moment: a's uptime when b was measured.
        nodes.values.compactMap(\.serverUptime).min { a, b in a.seconds + (b.measuredAt - a.measuredAt) < b.seconds }
    }

    var tlsProtocol: String? { nodes.values.lazy.compactMap(\.tlsProtocol).first }

    /// A cluster is many servers: no one run_id names it, and its nodes' roles are the
    /// slot map's business.
    var serverRunID: String? { nil }
    var serverRole: ServerRole? { nil }

    var masterAddress: HostPort? { nil }

    var clusterMasters: [HostPort]? { masters.isEmpty ? nil : masters }
}
