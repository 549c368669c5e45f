import RedlockCore

/// `redlock doctor [--json]`: is this deployment fit to hold locks? The judgement is the
/// core's (`HealthReport`); this words and renders it.
enum DoctorCommand {
    static func execute(json: Bool, restartGrace: Duration, config: Config) throws(Failure) -> Int32 {
        let report = config.makeRedlock().checkHealth(restartGrace: restartGrace, wallClock: WallClock.millisecondsSinceEpoch)
        let checkups = report.checkups
        let quorum = report.quorum
        var quorumWarnings: [String] = []
        switch report.quorumProblem {
        case let .tooYoung(counting)?:
            quorumWarnings.append("only \(counting) instances have been up for --restart-grace: no lock can be acquired until \(quorum.needed) have")
        case let .noneCanFail(single)?:
            quorumWarnings.append(single ? "a single instance: locks stop working when it is down" : "no instance can fail before locks stop working")
        case nil: break
        }
        var notes: [String] = []
        if report.lossyWithoutGrace > 0 {
            notes.append("\(report.lossyWithoutGrace) of \(checkups.count) instances run without appendfsync always: after a crash they may restart without lock keys. Set --restart-grace (REDLOCK_RESTART_GRACE) to the largest TTL in use, or appendfsync always (the delayed-restart rule in redlock(1)).")
        }

        if json {
            config.console.print(JSONValue.object([
                ("quorum", .integer(Int64(quorum.needed))),
                ("total", .integer(Int64(checkups.count))),
                ("reachable", .integer(Int64(checkups.filter(\.reachable).count))),
                ("quorum_reachable", .bool(report.quorumReachable)),
                ("can_fail", .integer(Int64(report.canFail))),
                ("status", .string(report.status.rawValue)),
                ("instances", .array(checkups.map(jsonRow))),
                ("notes", .array((quorumWarnings + notes).map(JSONValue.string))),
            ]).text)
        } else {
            config.console.print(table(checkups))
            for checkup in checkups {
                for finding in checkup.findings {
                    let label: String
                    switch finding.severity {
                    case .fact: label = "info"
                    case .error: label = "error"
                    case .warning: label = "warning"
                    case .unknown: label = "unknown"
                    }
                    config.console.print("\(label): \(checkup.endpoint): \(text(finding))")
                }
            }
            let summary = "quorum: \(quorum.needed) of \(checkups.count) needed, \(report.usable) usable"
            if report.quorumReachable {
                config.console.print("\(summary): \(report.canFail) can fail")
            } else if quorum.isReached(by: report.usable) {
                config.console.print("\(summary), \(report.counting) counting: NO LOCK CAN BE ACQUIRED")
            } else {
                config.console.print("\(summary): QUORUM UNREACHABLE")
            }
            for warning in quorumWarnings { config.console.print("warning: \(warning)") }
            for note in notes { config.console.print("note: \(note)") }
        }
        if !report.quorumReachable { return ExitCode.unavailable.rawValue }
        return report.status == .ok ? ExitCode.success.rawValue : ExitCode.negative.rawValue
    }

    /// A finding in words (with the flag names a user types).
    static func text(_ finding: Finding) -> String {
        switch finding {
        case let .unreachable(error): return "unreachable: \(error?.withFlagHint ?? "no answer")"
        case let .sentinelMaster(name, address): return "Sentinel master '\(name)' is at \(address) (it answers ROLE as master)"
        case let .clusterMasters(masters):
            return "Redis Cluster of \(masters.count) masters: \(masters.map(\.description).joined(separator: ", ")) (the other facts are \(masters[0])'s)"
        case let .tls(version, verified): return "TLS on, \(version), \(verified ? "certificate verified" : "certificate NOT verified")"
        case .tlsNotVerified: return "TLS certificate verification is off (--tls-insecure): the connection can be intercepted"
        case let .notMaster(role): return "role is \(role), not master: it answers READONLY to lock writes"
        case let .replicaRefused(role, error): return "role is \(role), not master: \(error?.withFlagHint ?? "a replica never votes")"
        case let .sameServer(other): return "the same Redis server as \(other.identity) (one server is one vote: list it once)"
        case let .evicts(policy): return "maxmemory-policy \(policy) may evict lock keys before they expire (use noeviction)"
        case let .tooYoung(uptime, grace):
            return "up for \(DurationSyntax.formatRough(uptime)), less than --restart-grace \(DurationSyntax.format(grace)): its votes do not count yet"
        case let .clockOffset(offset):
            return "clock differs from this host's by \(DurationSyntax.formatRough(.milliseconds(Int64(abs(offset))))): check NTP; a clock that jumps expires keys early"
        case let .infoRefused(message): return "INFO refused (\(message)): role, eviction and uptime unknown"
        case let .scriptsRefused(message): return "cannot run the lock's scripts (\(message)): every lock command fails here; allow SCRIPT and EVALSHA"
        case let .notChecked(what, why): return "\(what) not checked: \(why)"
        }
    }

    private static func persistence(_ checkup: InstanceCheckup) -> String {
        switch (checkup.appendOnly, checkup.appendFsync) {
        case (true?, let fsync?): return "aof \(fsync)"
        case (true?, nil): return "aof"
        case (false?, _): return "no aof"
        default: return "unknown"
        }
    }

    private static func table(_ checkups: [InstanceCheckup]) -> String {
        let width = max(8, checkups.map { $0.endpoint.description.count }.max() ?? 0) + 2
        var lines = ["INSTANCE".padding(to: width) + "STATUS   RTT      VERSION  ROLE     EVICTION        PERSISTENCE   UPTIME  CLOCK"]
        for checkup in checkups {
            var row = checkup.endpoint.description.padding(to: width) + checkup.status.rawValue.padding(to: 9)
            guard checkup.reachable else {
                // A replica refused in the handshake was reached: its role is the fact to show.
                if let role = checkup.role, role != "master" {
                    lines.append((row + "-".padding(to: 9) + "?".padding(to: 9) + role).trimmingTrailingSpaces)
                } else {
                    lines.append((row + "unreachable").trimmingTrailingSpaces)
                }
                continue
            }
            row += (checkup.roundTrip.map(DurationSyntax.formatPrecise) ?? "-").padding(to: 9)
            row += (checkup.version ?? "?").padding(to: 9)
            row += (checkup.role ?? "?").padding(to: 9)
            row += (checkup.evictionPolicy ?? "?").padding(to: 16)
            row += persistence(checkup).padding(to: 14)
            row += (checkup.uptime.map { DurationSyntax.formatRough($0) } ?? "?").padding(to: 8)
            row += checkup.clockOffsetMilliseconds.map { ($0 >= 0 ? "+" : "-") + DurationSyntax.formatPrecise(.nanoseconds(Int64(abs($0) * 1e6))) } ?? "?"
            lines.append(row.trimmingTrailingSpaces)
        }
        return lines.joined(separator: "\n")
    }

    private static func sentinelJSON(_ checkup: InstanceCheckup) -> JSONValue {
        guard case let .sentinel(sentinels, master) = checkup.endpoint.address else { return .null }
        return .object([
            ("master", .string(master)),
            ("address", .optional(checkup.masterAddress?.description)),
            ("sentinels", .array(sentinels.map { .string($0.description) })),
        ])
    }

    private static func jsonRow(_ checkup: InstanceCheckup) -> JSONValue {
        let uptimeSeconds: JSONValue = checkup.uptime.map { .integer($0.milliseconds / 1000) } ?? .null
        let problems: [JSONValue] = checkup.findings.filter { $0.severity != .fact }.map { .string(text($0)) }
        return .object([
            ("instance", .string(checkup.endpoint.description)),
            ("reachable", .bool(checkup.reachable)),
            ("rtt_ms", checkup.roundTrip.map { .number(Double($0.nanoseconds) / 1e6) } ?? .null),
            ("version", .optional(checkup.version)),
            ("role", .optional(checkup.role)),
            ("maxmemory_policy", .optional(checkup.evictionPolicy)),
            ("appendonly", checkup.appendOnly.map(JSONValue.bool) ?? .null),
            ("appendfsync", .optional(checkup.appendFsync)),
            ("uptime_s", uptimeSeconds),
            ("clock_offset_ms", checkup.clockOffsetMilliseconds.map(JSONValue.number) ?? .null),
            ("sentinel", sentinelJSON(checkup)),
            ("cluster", checkup.clusterMasters.map { .object([("masters", .array($0.map { .string($0.description) }))]) } ?? .null),
            ("tls", .object([
                ("enabled", .bool(checkup.endpoint.usesTLS)),
                ("protocol", .optional(checkup.tlsProtocol)),
                ("verified", checkup.tlsProtocol == nil ? .null : .bool(checkup.tlsVerified)),
            ])),
            ("status", .string(checkup.status.rawValue)),
            ("problems", .array(problems)),
            ("error", .optional(checkup.failure?.withFlagHint)),
        ])
    }
}
