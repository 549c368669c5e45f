import RedlockCore

/// `redlock doctor [--json]`: is this deployment fit to hold locks?
enum DoctorCommand {
    /// One instance's facts, and what is wrong with them.
    struct Checkup {
        enum Status: String { case ok, warning, error, unknown }

        var endpoint: Endpoint
        var reachable = false
        var roundTrip: Duration?
        var version: String?
        var role: String?
        var evictionPolicy: String?
        var appendOnly: Bool?
        var appendFsync: String?
        var uptime: Int64?
        var clockOffsetMilliseconds: Double?
        /// The TLS protocol of a rediss:// instance ("TLSv1.3"); nil when not TLS or not reached.
        var tlsProtocol: String?
        /// Whether the server's certificate was verified (false with --tls-insecure).
        var tlsVerified = false
        /// A redis+sentinel:// instance's master, as the sentinels named it.
        var masterAddress: HostPort?
        /// A redis+cluster:// instance's masters, from its slot map. The other facts are
        /// one node's (the one keyless commands go to).
        var clusterMasters: [HostPort]?
        /// Facts that are neither good nor bad news: how the instance is reached.
        var facts: [String] = []
        var errors: [String] = []
        var warnings: [String] = []
        var unknown: [String] = []
        var failure: RedisError?

        var status: Status {
            if !errors.isEmpty { return .error }
            if !warnings.isEmpty { return .warning }
            if !unknown.isEmpty { return .unknown }
            return .ok
        }

        /// Usable for locks: reachable, and a master as far as we can tell.
        var usable: Bool { reachable && role != "slave" && role != "replica" }

        var persistence: String {
            switch (appendOnly, appendFsync) {
            case (true?, let fsync?): return "aof \(fsync)"
            case (true?, nil): return "aof"
            case (false?, _): return "no aof"
            default: return "unknown"
            }
        }

        /// Whether a crash can lose an acknowledged lock key.
        var losesKeysOnCrash: Bool { !(appendOnly == true && appendFsync == "always") }
    }

    static func execute(json: Bool, restartGrace: Duration, config: Config) throws(Failure) -> Int32 {
        let instances = config.makeRedlock().instances
        var checkups = instances.endpoints.map { Checkup(endpoint: $0) }

        // First a PING to connect, then one to time: the second is the round trip alone.
        for (index, result) in instances.round(Array(repeating: [Command("PING")], count: instances.count)).enumerated() {
            if case let .failure(error)? = result {
                checkups[index].failure = error
                // A replica fails in the handshake (it never votes); its role is still a fact.
                checkups[index].role = instances.role(of: index)?.description
            }
        }
        let timed = instances.timedRound(checkups.map { $0.failure == nil ? [Command("PING")] : nil })
        for (index, entry) in timed.enumerated() {
            guard let entry else { continue }
            switch entry.result {
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

        let before = WallClock.millisecondsSinceEpoch()
        let facts = instances.round(checkups.map { $0.reachable ? [Command("INFO"), Command("CONFIG", "GET", "appendfsync"), Command("TIME")] : nil })
        let after = WallClock.millisecondsSinceEpoch()
        for (index, result) in facts.enumerated() {
            guard let result else { continue }
            switch result {
            case let .success(replies) where replies.count == 3:
                read(replies, into: &checkups[index], localMidpoint: Double(before + after) / 2)
            case let .failure(error):
                checkups[index].reachable = false
                checkups[index].failure = error
            default: break
            }
        }
        for index in checkups.indices { judge(&checkups[index], restartGrace: restartGrace) }

        let usable = checkups.filter(\.usable).count
        let quorum = instances.quorum
        let canFail = usable - quorum
        var notes: [String] = []
        var quorumWarnings: [String] = []
        let counting = checkups.filter { $0.usable && !(restartGrace > .zero && ($0.uptime.map { Duration.seconds($0) < restartGrace } ?? true)) }.count
        if usable >= quorum && counting < quorum {
            quorumWarnings.append("only \(counting) instances have been up for --restart-grace: no lock can be acquired until \(quorum) have")
        } else if usable >= quorum && canFail == 0 {
            quorumWarnings.append(instances.count == 1
                ? "a single instance: locks stop working when it is down"
                : "no instance can fail before locks stop working")
        }
        let lossy = checkups.filter { $0.reachable && $0.losesKeysOnCrash }
        if restartGrace == .zero && !lossy.isEmpty {
            notes.append("\(lossy.count) of \(checkups.count) instances run without appendfsync always: after a crash they may restart without lock keys. Set --restart-grace (REDLOCK_RESTART_GRACE) to the largest TTL in use, or appendfsync always (the delayed-restart rule in redlock(1)).")
        }
        let status: Checkup.Status = usable < quorum ? .error
            : (checkups.contains { $0.status == .error || $0.status == .warning } || !quorumWarnings.isEmpty) ? .warning : .ok

        if json {
            config.console.print(JSONValue.object([
                ("quorum", .integer(Int64(quorum))),
                ("total", .integer(Int64(checkups.count))),
                ("reachable", .integer(Int64(checkups.filter(\.reachable).count))),
                ("quorum_reachable", .bool(usable >= quorum)),
                ("can_fail", .integer(Int64(max(canFail, -1)))),
                ("status", .string(status.rawValue)),
                ("instances", .array(checkups.map(jsonRow))),
                ("notes", .array((quorumWarnings + notes).map(JSONValue.string))),
            ]).text)
        } else {
            config.console.print(table(checkups))
            for checkup in checkups {
                for fact in checkup.facts { config.console.print("info: \(checkup.endpoint): \(fact)") }
                for problem in checkup.errors { config.console.print("error: \(checkup.endpoint): \(problem)") }
                for problem in checkup.warnings { config.console.print("warning: \(checkup.endpoint): \(problem)") }
                for problem in checkup.unknown { config.console.print("unknown: \(checkup.endpoint): \(problem)") }
            }
            let summary = "quorum: \(quorum) of \(checkups.count) needed, \(usable) usable"
            config.console.print(usable >= quorum ? "\(summary): \(canFail) can fail" : "\(summary): QUORUM UNREACHABLE")
            for warning in quorumWarnings { config.console.print("warning: \(warning)") }
            for note in notes { config.console.print("note: \(note)") }
        }
        if usable < quorum { return ExitCode.unavailable.rawValue }
        return status == .ok ? ExitCode.success.rawValue : ExitCode.negative.rawValue
    }

    private static func read(_ replies: [Reply], into checkup: inout Checkup, localMidpoint: Double) {
        if let text = replies[0].text {
            let info = ServerInfo(text)
            checkup.version = info["redis_version"]
            checkup.role = info["role"]
            checkup.evictionPolicy = info["maxmemory_policy"]
            checkup.appendOnly = info["aof_enabled"].map { $0 == "1" }
            checkup.uptime = info["uptime_in_seconds"].flatMap { Int64($0) }
        } else {
            checkup.unknown.append("INFO refused (\(replies[0].errorMessage ?? "no reply")): role, eviction and uptime unknown")
        }
        if let pair = replies[1].elements, pair.count == 2 {
            checkup.appendFsync = pair[1].text
        }
        if let time = replies[2].elements, time.count == 2,
           let seconds = time[0].text.flatMap({ Double($0) }), let micros = time[1].text.flatMap({ Double($0) }) {
            checkup.clockOffsetMilliseconds = seconds * 1000 + micros / 1000 - localMidpoint
        }
    }

    private static func judge(_ checkup: inout Checkup, restartGrace: Duration) {
        guard checkup.reachable else {
            checkup.errors.append("unreachable: \(checkup.failure?.description ?? "no answer")")
            return
        }
        if case let .sentinel(_, master) = checkup.endpoint.address, let address = checkup.masterAddress {
            checkup.facts.append("Sentinel master '\(master)' is at \(address) (it answers ROLE as master)")
        }
        if let masters = checkup.clusterMasters {
            checkup.facts.append("Redis Cluster of \(masters.count) masters: \(masters.map(\.description).joined(separator: ", ")) (the other facts are \(masters[0])'s)")
        }
        if let version = checkup.tlsProtocol {
            checkup.facts.append("TLS on, \(version), \(checkup.tlsVerified ? "certificate verified" : "certificate NOT verified")")
            if !checkup.tlsVerified {
                checkup.warnings.append("TLS certificate verification is off (--tls-insecure): the connection can be intercepted")
            }
        }
        if let role = checkup.role, role != "master" {
            checkup.errors.append("role is \(role), not master: it answers READONLY to lock writes")
        }
        if let policy = checkup.evictionPolicy, policy.hasPrefix("allkeys-") || policy.hasPrefix("volatile-") {
            checkup.warnings.append("maxmemory-policy \(policy) may evict lock keys before they expire (use noeviction)")
        }
        if restartGrace > .zero, let uptime = checkup.uptime, Duration.seconds(uptime) < restartGrace {
            checkup.warnings.append("up for \(DurationSyntax.formatRough(.seconds(uptime))), less than --restart-grace \(DurationSyntax.format(restartGrace)): its votes do not count yet")
        }
        if let offset = checkup.clockOffsetMilliseconds, abs(offset) > 2000 {
            checkup.warnings.append("clock differs from this host's by \(DurationSyntax.formatRough(.milliseconds(Int64(abs(offset))))): check NTP; a clock that jumps expires keys early")
        }
    }

    private static func table(_ checkups: [Checkup]) -> String {
        let width = max(8, checkups.map { $0.endpoint.description.count }.max() ?? 0) + 2
        var lines = ["INSTANCE".padding(to: width) + "STATUS   RTT      VERSION  ROLE     EVICTION        PERSISTENCE   UPTIME  CLOCK"]
        for checkup in checkups {
            var row = checkup.endpoint.description.padding(to: width) + checkup.status.rawValue.padding(to: 9)
            guard checkup.reachable else {
                lines.append((row + "unreachable").trimmingTrailingSpaces)
                continue
            }
            row += (checkup.roundTrip.map(DurationSyntax.formatPrecise) ?? "-").padding(to: 9)
            row += (checkup.version ?? "?").padding(to: 9)
            row += (checkup.role ?? "?").padding(to: 9)
            row += (checkup.evictionPolicy ?? "?").padding(to: 16)
            row += checkup.persistence.padding(to: 14)
            row += (checkup.uptime.map { DurationSyntax.formatRough(.seconds($0)) } ?? "?").padding(to: 8)
            row += checkup.clockOffsetMilliseconds.map { ($0 >= 0 ? "+" : "-") + DurationSyntax.formatPrecise(.nanoseconds(Int64(abs($0) * 1e6))) } ?? "?"
            lines.append(row.trimmingTrailingSpaces)
        }
        return lines.joined(separator: "\n")
    }

    private static func sentinelJSON(_ checkup: Checkup) -> JSONValue {
        guard case let .sentinel(sentinels, master) = checkup.endpoint.address else { return .null }
        return .object([
            ("master", .string(master)),
            ("address", .optional(checkup.masterAddress?.description)),
            ("sentinels", .array(sentinels.map { .string($0.description) })),
        ])
    }

    private static func jsonRow(_ checkup: Checkup) -> JSONValue {
        .object([
            ("instance", .string(checkup.endpoint.description)),
            ("reachable", .bool(checkup.reachable)),
            ("rtt_ms", checkup.roundTrip.map { .number(Double($0.nanoseconds) / 1e6) } ?? .null),
            ("version", .optional(checkup.version)),
            ("role", .optional(checkup.role)),
            ("maxmemory_policy", .optional(checkup.evictionPolicy)),
            ("appendonly", checkup.appendOnly.map(JSONValue.bool) ?? .null),
            ("appendfsync", .optional(checkup.appendFsync)),
            ("uptime_s", .optional(checkup.uptime)),
            ("clock_offset_ms", checkup.clockOffsetMilliseconds.map(JSONValue.number) ?? .null),
            ("sentinel", sentinelJSON(checkup)),
            ("cluster", checkup.clusterMasters.map { .object([("masters", .array($0.map { .string($0.description) }))]) } ?? .null),
            ("tls", .object([
                ("enabled", .bool(checkup.endpoint.usesTLS)),
                ("protocol", .optional(checkup.tlsProtocol)),
                ("verified", checkup.tlsProtocol == nil ? .null : .bool(checkup.tlsVerified)),
            ])),
            ("status", .string(checkup.status.rawValue)),
            ("problems", .array((checkup.errors + checkup.warnings + checkup.unknown).map(JSONValue.string))),
            ("error", .optional(checkup.failure?.description)),
        ])
    }
}
