/// `doctor`'s judgement of a deployment as data: each instance's checkup, and what the
/// quorum can do with them, decided as `run` would (an instance too young for
/// `--restart-grace` does not count, so it does not make a quorum reachable either).
public struct HealthReport: Sendable {
    public let checkups: [InstanceCheckup]
    public let quorum: Quorum
    public let restartGrace: Duration

    /// Reachable masters.
    public var usable: Int { checkups.filter(\.usable).count }
    /// Usable masters whose grants count now.
    public var counting: Int { checkups.filter { $0.counts(restartGrace: restartGrace) }.count }
    /// Whether a lock can be acquired now: as many counting instances as a quorum needs.
    public var quorumReachable: Bool { quorum.isReached(by: counting) }
    /// How many more counting instances may fail before no lock can be acquired (-1: none
    /// can be acquired now).
    public var canFail: Int { max(quorum.canLose(of: counting), -1) }

    public enum QuorumProblem: Sendable, Equatable {
        /// Reachable, but too few have been up for `--restart-grace`.
        case tooYoung(counting: Int)
        /// No instance can fail (always so with one or two instances).
        case noneCanFail(single: Bool)
    }

    public var quorumProblem: QuorumProblem? {
        if quorum.isReached(by: usable) && !quorumReachable { return .tooYoung(counting: counting) }
        if quorumReachable && canFail == 0 { return .noneCanFail(single: quorum.instances == 1) }
        return nil
    }

    /// Instances that may restart without lock keys, when `--restart-grace` is off: the
    /// delayed-restart note (advice, not a warning).
    public var lossyWithoutGrace: Int {
        restartGrace == .zero ? checkups.filter { $0.reachable && $0.losesKeysOnCrash }.count : 0
    }

    public var status: InstanceCheckup.Status {
        if !quorumReachable { return .error }
        // What could not be checked is not reported healthy: "unknown" is a warning overall.
        if checkups.contains(where: { $0.status != .ok }) || quorumProblem != nil { return .warning }
        return .ok
    }
}

extension Redlock {
    /// Checks every instance: a PING to connect, one to time, then INFO, CONFIG GET
    /// appendfsync and TIME in one round; judged into a report.
    public func checkHealth(restartGrace: Duration, wallClock: () -> Int64) -> HealthReport {
        var checkups = instances.endpoints.map { InstanceCheckup(endpoint: $0) }
        // First a PING to connect, then one to time: the second is the round trip alone.
        for (index, result) in instances.round(Array(repeating: [Command("PING")], count: instances.count)).enumerated() {
            // An error reply to PING (a proxy, a server that wants no such client) is no answer.
            if let result, case let .failure(error) = InstanceSet.single(result) {
                checkups[index].failure = error
                // A replica fails in the handshake (it never votes); its role is still a fact.
                checkups[index].role = instances.role(of: index)?.description
            }
        }
        let timed = instances.timedRound(checkups.map { $0.failure == nil ? [Command("PING")] : nil })
        for (index, entry) in timed.enumerated() {
            guard let entry else { continue }
            switch entry.result.flatMap({ replies in InstanceSet.single(.success(replies)).map { [$0] } }) {
            case .success:
                checkups[index].reachable = true
                checkups[index].roundTrip = entry.elapsed
                checkups[index].masterAddress = instances.masterAddress(of: index)
                checkups[index].clusterMasters = instances.clusterMasters(of: index)
                if let version = instances.tlsProtocol(of: index) {
                    checkups[index].tlsProtocol = version
                    checkups[index].tlsVerified = instances.tls?.configuration.verifiesPeer ?? false
                }
            case let .failure(error): checkups[index].failure = error
            }
        }
        let before = wallClock()
        // The lock's scripts are loaded with SCRIPT LOAD and run with EVALSHA: an ACL that
        // refuses either makes every lock command fail there (77), however healthy the rest.
        let scriptCheck = [Command("SCRIPT", "LOAD", Self.scriptCheck), Command("EVALSHA", Self.scriptCheckSHA1, "0")]
        let facts = instances.round(checkups.map { $0.reachable ? [Command("INFO"), Command("CONFIG", "GET", "appendfsync"), Command("TIME")] + scriptCheck : nil })
        let after = wallClock()
        var refused: [Int: String] = [:]
        for (index, result) in facts.enumerated() {
            guard let result else { continue }
            switch result {
            case let .success(replies) where replies.count == 5:
                if let refusal = Self.read(replies, into: &checkups[index], localMidpoint: Double(before + after) / 2) { refused[index] = refusal }
            case let .failure(error):
                checkups[index].reachable = false
                checkups[index].failure = error
            default: break
            }
        }
        for (first, second) in instances.duplicateIdentities() where checkups[second].sameServer == nil {
            checkups[second].sameServer = checkups[first].endpoint
        }
        for index in checkups.indices {
            checkups[index].judge(restartGrace: restartGrace)
            if let refusal = refused[index], checkups[index].reachable { checkups[index].findings.append(.infoRefused(refusal)) }
        }
        return HealthReport(checkups: checkups, quorum: quorum, restartGrace: restartGrace)
    }

    /// A script that does nothing, and its SHA1: whether scripts may run at all.
    private static let scriptCheck = "return 1"
    private static let scriptCheckSHA1 = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"

    /// Reads INFO, appendfsync, TIME and the script check; returns INFO's refusal when it
    /// was refused. What was refused otherwise is noted as not checked.
    private static func read(_ replies: [Reply], into checkup: inout InstanceCheckup, localMidpoint: Double) -> String? {
        for reply in replies[3...4] {
            if let message = reply.errorMessage, checkup.scriptsRefused == nil { checkup.scriptsRefused = message }
        }
        if let message = replies[2].errorMessage { checkup.notChecked.append((what: "clock", why: "TIME refused: \(message)")) }
        defer {
            // appendfsync matters only with the append-only file on (INFO says so).
            if let message = replies[1].errorMessage, checkup.appendOnly != false {
                checkup.notChecked.append((what: "persistence", why: "CONFIG GET refused: \(message)"))
            }
        }
        var refusal: String?
        if let text = replies[0].text {
            let info = ServerInfo(text)
            checkup.version = info["redis_version"]
            checkup.role = info["role"]
            checkup.evictionPolicy = info["maxmemory_policy"]
            checkup.appendOnly = info["aof_enabled"].map { $0 == "1" }
            checkup.uptime = info["uptime_in_seconds"].flatMap { Int64($0) }.map { .seconds($0) }
        } else {
            refusal = replies[0].errorMessage ?? "no reply"
        }
        if let pair = replies[1].elements, pair.count == 2 {
            checkup.appendFsync = pair[1].text
        }
        if let time = replies[2].elements, time.count == 2,
           let seconds = time[0].text.flatMap({ Double($0) }), let micros = time[1].text.flatMap({ Double($0) }) {
            checkup.clockOffsetMilliseconds = seconds * 1000 + micros / 1000 - localMidpoint
        }
        return refusal
    }
}
