/// Finds the address of a Sentinel-managed master for one `redis+sentinel://` connection:
/// asks the sentinels in turn `SENTINEL get-master-addr-by-name MASTER` and stops at the
/// first that names it.
///
/// It asks through plain `Connection`s driven by the owner's poll loop (no thread, no
/// blocking call), one sentinel at a time, each given an equal share of
/// `--connect-timeout`: a dead sentinel costs its share, not the whole attempt. The
/// sentinel that answered is asked first next time, as Sentinel clients usually do.
final class SentinelResolver {
    enum Outcome {
        case found(HostPort)
        case failed(RedisError)
    }

    let master: String
    /// The sentinels, the one that answered last first.
    private var order: [HostPort]
    private let stepTimeout: Duration
    /// For `rediss+sentinel://`: the sentinels are asked over TLS too.
    private let tls: TLSContext?
    private var position = 0
    private var asking: Connection?
    private var failures: [String] = []
    /// The first TLS failure, and from which sentinel: when every sentinel failed that
    /// way, it is the answer (a certificate will not verify on the next attempt either).
    private var tlsFailure: (sentinel: HostPort, reason: String, remedy: TLSRemedy?)?
    private var onlyTLSFailures = true
    /// When the sentinel being asked has had its share of time.
    private(set) var stepDeadline: Instant?
    private(set) var outcome: Outcome?

    private let hostLookups: HostLookups

    init(sentinels: [HostPort], master: String, connectTimeout: Duration, tls: TLSContext? = nil, hostLookups: HostLookups = HostLookups()) {
        self.master = master
        self.hostLookups = hostLookups
        self.tls = tls
        order = sentinels
        stepTimeout = max(.milliseconds(1), connectTimeout / sentinels.count)
    }

    /// Starts over with the first sentinel.
    func start() {
        cancel()
        outcome = nil
        failures = []
        tlsFailure = nil
        onlyTLSFailures = true
        position = 0
        askNext()
    }

    var descriptor: FileDescriptor? { asking?.descriptor }

    var wantedEvents: Poll.Events { asking?.wantedEvents ?? [] }

    func handle(_ events: Poll.Events) {
        guard let asking else { return }
        asking.handle(events)
        if asking.isFinished { conclude(asking) }
    }

    /// The current sentinel missed its share of the time: on to the next.
    func stepTimedOut() {
        guard let asking else { return }
        asking.timeOut()
        conclude(asking)
    }

    /// Closes the connection to the sentinel being asked, if any.
    func cancel() {
        asking?.close()
        asking = nil
        stepDeadline = nil
    }

    /// The address the last answer gave is not a master (a sentinel that has not heard of a
    /// failover yet): that sentinel is asked last next time.
    func distrustLastAnswer() {
        guard order.count > 1 else { return }
        order.append(order.removeFirst())
    }

    private func askNext() {
        while position < order.count {
            let sentinel = order[position]
            let connection = Connection(endpoint: Endpoint(address: .tcp(host: sentinel.host, port: sentinel.port), usesTLS: tls != nil), tls: tls, hostLookups: hostLookups)
            connection.begin([Command("SENTINEL", "get-master-addr-by-name", master)])
            asking = connection
            stepDeadline = Instant.now() + stepTimeout
            if !connection.isFinished { return }
            conclude(connection)
            return
        }
        asking = nil
        stepDeadline = nil
        let reasons = failures.joined(separator: "; ")
        if onlyTLSFailures, let tlsFailure {
            outcome = .failed(.tls("\(tlsFailure.reason) (sentinel \(tlsFailure.sentinel))", remedy: tlsFailure.remedy))
            return
        }
        outcome = .failed(.sentinel("no sentinel named the master '\(master)' (\(reasons))"))
    }

    private func conclude(_ connection: Connection) {
        let sentinel = order[position]
        connection.close()
        asking = nil
        stepDeadline = nil
        switch InstanceSet.single(connection.finish()) {
        case let .success(.array(items)) where items.count == 2:
            if let host = items[0].text, let port = items[1].text.flatMap({ UInt16($0) }), !host.isEmpty, port > 0 {
                order.remove(at: position)
                order.insert(sentinel, at: 0)
                outcome = .found(HostPort(host: host, port: port))
                return
            }
            failures.append("\(sentinel): unexpected reply \(Reply.array(items))")
        case .success(.null), .success(.array([])):
            failures.append("\(sentinel): does not know '\(master)'")
        case let .success(other):
            failures.append("\(sentinel): unexpected reply \(other)")
        case let .failure(error):
            failures.append("\(sentinel): \(error)")
            if case let .tls(reason, remedy) = error {
                tlsFailure = tlsFailure ?? (sentinel, reason, remedy)
                position += 1
                askNext()
                return
            }
        }
        onlyTLSFailures = false
        position += 1
        askNext()
    }
}
