/// One instance's facts as `doctor` gathers them, and what is wrong with them (findings,
/// judged by the core; the CLI only words them).
public struct InstanceCheckup: Sendable {
    public enum Status: String, Sendable { case ok, warning, error, unknown }

    public let endpoint: Endpoint
    public var reachable = false
    public var roundTrip: Duration?
    public var version: String?
    public var role: String?
    public var evictionPolicy: String?
    public var appendOnly: Bool?
    public var appendFsync: String?
    public var uptime: Duration?
    public var clockOffsetMilliseconds: Double?
    /// The TLS protocol of a rediss:// instance ("TLSv1.3"); nil when not TLS or not reached.
    public var tlsProtocol: String?
    /// Whether the server's certificate was verified (false with --tls-insecure).
    public var tlsVerified = false
    /// A redis+sentinel:// instance's master, as the sentinels named it.
    public var masterAddress: HostPort?
    /// A redis+cluster:// instance's masters, from its slot map. The other facts are one
    /// node's (the one keyless commands go to).
    public var clusterMasters: [HostPort]?
    public var failure: RedisError?
    /// Why the lock's scripts cannot run there (SCRIPT LOAD or EVALSHA refused, an ACL).
    public var scriptsRefused: String?
    /// Facts that could not be read, and why (a refused CONFIG or TIME).
    public var notChecked: [(what: String, why: String)] = []
    /// An earlier instance of the list that is this same server (INFO run_id): one server is
    /// one vote, so this one is not usable.
    public var sameServer: Endpoint?
    /// What is wrong (or worth saying), judged from the facts by `judge`.
    public internal(set) var findings: [Finding] = []

    public init(endpoint: Endpoint) { self.endpoint = endpoint }

    public var status: Status {
        if findings.contains(where: { $0.severity == .error }) { return .error }
        if findings.contains(where: { $0.severity == .warning }) { return .warning }
        if findings.contains(where: { $0.severity == .unknown }) { return .unknown }
        return .ok
    }

    /// Reachable, and a master as far as we can tell.
    public var usable: Bool { reachable && sameServer == nil && role != "slave" && role != "replica" && scriptsRefused == nil }

    /// Usable, and its grant counts now: up for at least `restartGrace` (when set).
    public func counts(restartGrace: Duration) -> Bool {
        usable && (restartGrace == .zero || (uptime.map { $0 >= restartGrace } ?? false))
    }

    /// Whether a crash can lose an acknowledged lock key.
    public var losesKeysOnCrash: Bool { !(appendOnly == true && appendFsync == "always") }

    /// Judges the facts.
    mutating func judge(restartGrace: Duration) {
        findings = []
        guard reachable else {
            // A replica fails in the handshake (it never votes), but it answered: it is not
            // a master, not unreachable.
            if let role, role != "master" { findings.append(.replicaRefused(role: role, failure)) } else { findings.append(.unreachable(failure)) }
            return
        }
        if case let .sentinel(_, master) = endpoint.address, let masterAddress {
            findings.append(.sentinelMaster(name: master, address: masterAddress))
        }
        if let clusterMasters { findings.append(.clusterMasters(clusterMasters)) }
        if let tlsProtocol {
            findings.append(.tls(protocol: tlsProtocol, verified: tlsVerified))
            if !tlsVerified { findings.append(.tlsNotVerified) }
        }
        if let sameServer { findings.append(.sameServer(as: sameServer)) }
        if let scriptsRefused { findings.append(.scriptsRefused(scriptsRefused)) }
        for fact in notChecked { findings.append(.notChecked(fact.what, because: fact.why)) }
        if let role, role != "master" { findings.append(.notMaster(role: role)) }
        if let evictionPolicy, evictionPolicy.hasPrefix("allkeys-") || evictionPolicy.hasPrefix("volatile-") {
            findings.append(.evicts(policy: evictionPolicy))
        }
        if restartGrace > .zero, let uptime, uptime < restartGrace {
            findings.append(.tooYoung(uptime: uptime, restartGrace: restartGrace))
        }
        if let clockOffsetMilliseconds, abs(clockOffsetMilliseconds) > 2000 {
            findings.append(.clockOffset(milliseconds: clockOffsetMilliseconds))
        }
    }
}

/// Something `doctor` found about one instance.
public enum Finding: Sendable {
    public enum Severity: Sendable { case fact, error, warning, unknown }

    case unreachable(RedisError?)
    case sentinelMaster(name: String, address: HostPort)
    case clusterMasters([HostPort])
    case tls(protocol: String, verified: Bool)
    case tlsNotVerified
    /// Not a master: it answers READONLY to lock writes.
    case notMaster(role: String)
    /// Refused in the handshake as a replica (it never votes): reached, but not usable.
    case replicaRefused(role: String, RedisError?)
    /// The same server as an earlier instance of the list (one server, one vote).
    case sameServer(as: Endpoint)
    /// An eviction policy that may evict lock keys before they expire.
    case evicts(policy: String)
    /// Up for less than `--restart-grace`: its votes do not count yet.
    case tooYoung(uptime: Duration, restartGrace: Duration)
    case clockOffset(milliseconds: Double)
    /// INFO was refused: role, eviction and uptime are unknown.
    case infoRefused(String)
    /// SCRIPT LOAD or EVALSHA was refused: no lock command can run there.
    case scriptsRefused(String)
    /// A fact that could not be read (persistence, clock), and why.
    case notChecked(String, because: String)

    public var severity: Severity {
        switch self {
        case .unreachable, .notMaster, .replicaRefused, .sameServer, .scriptsRefused: return .error
        case .tlsNotVerified, .evicts, .tooYoung, .clockOffset: return .warning
        case .infoRefused, .notChecked: return .unknown
        case .sentinelMaster, .clusterMasters, .tls: return .fact
        }
    }
}
