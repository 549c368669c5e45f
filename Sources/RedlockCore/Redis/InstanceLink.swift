/// How `InstanceSet` drives one instance of the quorum through a round, whatever stands
/// behind it: one `Connection` (a plain, TLS or Sentinel-named server), or a `ClusterLink`
/// that spreads a request over the nodes of a Redis Cluster.
///
/// A link does not wait on its own: it says which sockets it wants polled for what, and is
/// handed what poll saw, so every instance of a round shares one poll loop and one deadline.
protocol InstanceLink: AnyObject {
    var endpoint: Endpoint { get }

    /// Starts a request (a pipeline); returns whether connections had to be opened for it.
    func begin(_ commands: [Command]) -> Bool
    /// Whether the next request should load its script first: it opens a connection (to a
    /// server that may be new or restarted since, which then has no script cached), or a
    /// request let go on this one may have been refused NOSCRIPT without anyone reading it.
    var loadsScriptsFirst: Bool { get }
    /// Whether the request has all its replies, or has failed.
    var isFinished: Bool { get }
    /// Still connecting (or asking where to connect): under `--connect-timeout`.
    var isStillConnecting: Bool { get }
    /// The sockets to poll now and for what; `handle` gets the results in the same order.
    func pollRequests() -> [(FileDescriptor, Poll.Events)]
    func handle(_ events: [Poll.Events])
    /// A deadline of the link's own (one sentinel's or seed's share of the connect time).
    var stepDeadline: Instant? { get }
    func stepTimedOut()
    /// The replies, one per command, or why there are none.
    func finish() -> Result<[Reply], RedisError>
    /// The round's deadline passed: give up on the request.
    func timeOut()
    /// A decided round stops waiting for the request: its replies may still come, and are
    /// dropped (`owesReplies` until then), or the link gives up on it as `timeOut` does.
    func letGo()
    var owesReplies: Bool { get }
    func close()

    /// After a SUBSCRIBE request: keep the connection for pushed messages.
    func listen()
    var isListening: Bool { get }
    var listeningDescriptors: [FileDescriptor] { get }
    func takePushed() -> [Reply]
    /// Whether bytes wait where poll cannot see them (decrypted by TLS already).
    var hasBufferedInput: Bool { get }

    /// The server's uptime as INFO reported it when the link connected, and when.
    var serverUptime: (seconds: Duration, measuredAt: Instant)? { get }
    /// The server's INFO run_id and its answer to ROLE from the handshake; nil when unknown
    /// (not connected yet, refused, or a kind of link that does not ask).
    var serverRunID: String? { get }
    var serverRole: ServerRole? { get }
    var tlsProtocol: String? { get }
    var masterAddress: HostPort? { get }
    /// The masters of a Redis Cluster, as its slot map names them; nil for other links.
    var clusterMasters: [HostPort]? { get }
}

extension Connection: InstanceLink {
    func pollRequests() -> [(FileDescriptor, Poll.Events)] {
        guard let descriptor else { return [] }
        // While a plain-text probe runs beside a TLS handshake, both sockets are watched.
        return [(descriptor, wantedEvents)] + (probeRequest.map { [$0] } ?? [])
    }

    func handle(_ events: [Poll.Events]) {
        if events.count > 1 { handleProbe(events[1]) }
        handle(events.first ?? [])
    }

    var listeningDescriptors: [FileDescriptor] {
        isListening ? descriptor.map { [$0] } ?? [] : []
    }

    var clusterMasters: [HostPort]? { nil }
}
