import RedlockCore

/// `redlock inspect [--json] [-l] [KEY|PATTERN...]`: who holds a lock, where, for how long.
///
/// One KEY shows its details; several keys, a pattern or no argument show one row per
/// lock (as `lslocks` and `etcdctl -w table` do), and `--long` the details of each.
enum InspectCommand {
    struct Options {
        /// KEY and PATTERN as given: bytes, stored and matched unchanged.
        var names: [[UInt8]]
        var json: Bool
        var long: Bool = false

        /// Details (one block per key) rather than one row per lock.
        var showsDetails: Bool { long || (names.count == 1 && !InspectCommand.isPattern(names[0])) }
    }

    static func options(_ invocation: Invocation) -> Options {
        Options(names: invocation.positionalBytes, json: invocation.has("json"), long: invocation.has("long"))
    }

    static func isPattern(_ name: [UInt8]) -> Bool { name.contains { "*?[".utf8.contains($0) } }

    /// A listing that stopped early could leave out held locks: not shown as if it were all
    /// (69, as for any answer that cannot be known whole).
    private static func refuseIncomplete(_ stopped: Redlock.ScanStop?, _ pattern: String, what: String) throws(Failure) {
        guard let stopped else { return }
        let why = stopped == .tooManyKept ? "more than \(Redlock.scanLimit) \(what) match '\(pattern)'" : "more than \(Redlock.scanBudget) keys were looked at for '\(pattern)'"
        throw Failure(.unavailable, "\(why): the listing would be incomplete; name the keys, or narrow the pattern or --prefix")
    }

    /// The keys `prefix` + `pattern` matches, and the locks held only shared or in slots
    /// whose mode keys (`{KEY}:shared`, `{KEY}:mode`: they start with '{', so a prefix's
    /// pattern does not match them) `{` + `prefix` + `modeKeys` matches, `keeping` applied
    /// to both. The failures are the first scan's: the second asks the same instances, and
    /// an instance must not count twice against the quorum.
    private static func scanLocks(_ redlock: Redlock, prefix: [UInt8], pattern: [UInt8], modeKeys: [UInt8]?, what: String,
                                  keeping: (([[UInt8]]) -> [[UInt8]])? = nil) throws(Failure) -> (keys: [[UInt8]], failures: [InstanceError]) {
        let shown = String(decoding: pattern, as: UTF8.self)
        var found = redlock.scan(matching: escapedGlob(prefix) + pattern, keeping: keeping)
        try refuseIncomplete(found.stopped, shown, what: what)
        if let modeKeys {
            let modes = redlock.scan(matching: Array("{".utf8) + escapedGlob(prefix) + modeKeys, keeping: keeping)
            try refuseIncomplete(modes.stopped, shown, what: what)
            found.keys += modes.keys.filter { !found.keys.contains($0) }
        }
        return (found.keys, found.failures)
    }

    /// Whether any instance holds a value redlock wrote.
    private static func isRedlocks(_ state: KeyState) -> Bool {
        state.instances.contains { instance in
            guard case let .held(holdings) = instance else { return false }
            return holdings.contains { LockValue.decode($0.value) != nil }
        }
    }

    /// A key that holds a hash, a list or a set where it could not be read as a string is
    /// no lock (every lock is a string; modes are found as their KEY): an application's keys
    /// on a shared Redis neither make the listing unknown nor count toward its limit.
    private static func isNotAString(_ state: KeyState) -> Bool {
        !state.failures.isEmpty && state.failures.allSatisfy { if case .wrongType = $0.error { return true } else { return false } }
    }

    /// What listing every lock keeps of a scanned page: redlock's locks, and keys whose
    /// reads failed (any of them may be one).
    private static func mayBeALock(_ state: KeyState) -> Bool {
        isRedlocks(state) || (state.verdict == .unknown && !isNotAString(state))
    }

    static func execute(_ options: Options, config: Config) throws(Failure) -> Int32 {
        // Every mode: shared holders and slots are listed too (AnyHolder).
        let redlock = config.makeRedlock(kind: AnyHolder())
        let prefix = Array(config.prefix.utf8)
        var keys: [[UInt8]] = []
        var named: Set<[UInt8]> = []
        var emptyPattern = false
        var failures: [InstanceError] = []

        if options.names.isEmpty {
            // Every lock redlock holds: scan, then keep the keys whose value is redlock's.
            // Without a prefix, `*` matches the mode keys too.
            let found = try scanLocks(redlock, prefix: prefix, pattern: Array("*".utf8), modeKeys: prefix.isEmpty ? nil : Array("*".utf8), what: "locks") { page in
                redlock.inspect(page).filter(mayBeALock).map(\.key)
            }
            failures += found.failures
            keys = found.keys
        }
        for name in options.names {
            if isPattern(name) {
                let found = try scanLocks(redlock, prefix: prefix, pattern: name, modeKeys: name + Array("}:*".utf8), what: "keys")
                failures += found.failures
                if found.keys.isEmpty { emptyPattern = true }
                keys += found.keys.filter { !keys.contains($0) }
                named.formUnion(found.keys)
            } else {
                let key = config.redisKey(name)
                if !keys.contains(key) { keys.append(key) }
                named.insert(key)
            }
        }
        if !redlock.quorum.answered(redlock.quorum.instances - failures.count) {
            throw LockWaiting.unreachable(failures, quorum: redlock.quorum, what: "scan for keys")
        }
        var states = redlock.inspect(keys)
        try DuplicateServers.refuse(redlock)
        // Listing every lock: redlock's locks are shown; a key whose reads failed on too many
        // instances is not dropped as "not a lock", it makes the answer unknown.
        var unreadable: [KeyState] = []
        if options.names.isEmpty {
            unreadable = states.filter { $0.verdict == .unknown && !isRedlocks($0) && !isNotAString($0) }
            states = states.filter(isRedlocks)
        }
        let unknown = states.filter { $0.verdict == .unknown } + unreadable
        if !unknown.isEmpty {
            // Each instance's first failure, named once.
            var errors: [InstanceError] = []
            for state in unknown {
                for failure in state.failures where !errors.contains(where: { $0.endpoint == redlock.instances.endpoints[failure.instance] }) {
                    errors.append(InstanceError(endpoint: redlock.instances.endpoints[failure.instance], error: failure.error))
                }
            }
            // Still show what could be seen, then fail: an operator wants both.
            output(states, options: options, config: config, redlock: redlock, unreadable: unreadable.count)
            let what = unreadable.isEmpty ? "inspect" : "inspect (\(unreadable.count) keys could not be read)"
            throw LockWaiting.unreachable(errors, quorum: redlock.quorum, what: what)
        }
        output(states, options: options, config: config, redlock: redlock)
        let allHeld = states.filter { named.contains($0.key) }.allSatisfy { $0.verdict == .held }
        return allHeld && !emptyPattern ? ExitCode.success.rawValue : ExitCode.negative.rawValue
    }

    /// `unreadable`: keys whose values a quorum did not return, so whether they are locks
    /// is unknown (listing every lock only).
    private static func output(_ states: [KeyState], options: Options, config: Config, redlock: Redlock, unreadable: Int = 0) {
        if options.json {
            var document = json(states, config: config, redlock: redlock)
            if case let .object(fields) = document, options.names.isEmpty {
                document = .object(fields + [("unreadable_keys", .integer(Int64(unreadable)))])
            }
            config.console.print(document.text)
            return
        }
        var blocks = options.showsDetails ? states.map { text($0, config: config, redlock: redlock) } : table(states, config: config)
        // One KEY's details show its --once done marks too (Automation.swift).
        if options.names.count == 1, !isPattern(options.names[0]), let key = states.first?.key, !blocks.isEmpty {
            blocks[0] += Automation.onceMarkLines(key: key, redlock: redlock).map { "\n" + $0 }.joined()
        }
        if unreadable > 0 {
            blocks.append("unknown: \(unreadable) keys could not be read on a quorum of instances; any of them may be a lock")
        } else if states.isEmpty {
            blocks.append(options.names.isEmpty ? "no locks held" : "no matching keys")
        }
        config.console.print(blocks.joined(separator: "\n"))
    }

    /// The key as the user names it: without `--prefix`.
    static func displayName(_ key: [UInt8], config: Config) -> String {
        let prefix = Array(config.prefix.utf8)
        let name = key.starts(with: prefix) ? Array(key.dropFirst(prefix.count)) : key
        return TerminalText.escaped(bytes: name)
    }

    /// One row per lock: KEY, HOLDER, SINCE, TTL, QUORUM. Every cell is escaped, so a value
    /// with a newline cannot forge a row, and none is cut: a wide cell widens its column.
    static func table(_ states: [KeyState], config: Config) -> [String] {
        guard !states.isEmpty else { return [] }
        let rows = states.map { state -> [String] in
            let raw = state.holder
            let value = raw.flatMap(LockValue.decode)
            let holder = raw.map(InstanceStateText.holder) ?? "-"
            let since = value.map(\.holder.acquiredAtMilliseconds).flatMap { $0 > 0 ? TimeFormat.rfc3339(millisecondsSinceEpoch: $0) : nil } ?? "-"
            let remaining = state.instances.indices.compactMap { index -> Duration? in
                guard state.holdsLeadingHolder(index), case let .held(holdings) = state.instances[index] else { return nil }
                return holdings.first?.remaining
            }.max()
            let ttl = raw == nil ? "-" : remaining.map(DurationSyntax.formatRough) ?? "none"
            let quorum = "\(state.verdict.rawValue) \(state.holderCount)/\(state.quorum.instances)"
            return [displayName(state.key, config: config), holder, since, ttl, quorum].map { TerminalText.escaped($0) }
        }
        let header = ["KEY", "HOLDER", "SINCE", "TTL", "QUORUM"]
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { cells in
            cells.enumerated().map { $1.padding(to: $0 == cells.count - 1 ? 0 : widths[$0] + 2) }.joined().trimmingTrailingSpaces
        }
    }

    /// A key's block: headline, holder details, one row per instance, the verdict.
    static func text(_ state: KeyState, config: Config, redlock: Redlock) -> String {
        let name = displayName(state.key, config: config)
        var lines: [String] = []
        switch state.verdict {
        case .free:
            lines.append("\(name): free")
        case .unknown where state.holder == nil:
            lines.append("\(name): unknown (fewer than a quorum of instances answered)")
        case .held, .split, .unknown:
            let raw = state.holder ?? []
            var headline = "\(name): \(state.verdict == .unknown ? "unknown, seen held" : "held") by \(InstanceStateText.holder(raw))"
            if let value = LockValue.decode(raw), let fence = value.fence { headline += ", fencing token \(fence)" }
            lines.append(InstanceStateText.clipped(headline, to: 100))
            if let value = LockValue.decode(raw) {
                if !value.holder.command.isEmpty { lines.append("  command: " + InstanceStateText.clipped(TerminalText.escaped(value.holder.command), to: 89)) }
                if value.holder.acquiredAtMilliseconds > 0 {
                    lines.append("  since:   " + TimeFormat.rfc3339(millisecondsSinceEpoch: value.holder.acquiredAtMilliseconds))
                }
                lines.append("  token:   " + value.token)
                if InstanceStateText.holderEnded(value) == true {
                    lines.append("  holder:  ended (pid \(value.holder.pid) is gone on this host): the key stays until its TTL")
                    lines.append("           runs out, kept by --min-hold or left by a holder that could not release it")
                }
            } else {
                lines.append("  value:   " + InstanceStateText.clipped(TerminalText.escaped(bytes: raw), to: 89))
            }
        }
        // A holder's line carries a token, a fencing token and who holds it: cut only where a
        // hostile value would flood the screen, not at a table's width (the user and command
        // of every holder but the first were lost at 100).
        lines += ModeHolders.lines(state).map { InstanceStateText.clipped($0, to: 400) }
        let width = max(12, redlock.instances.endpoints.map { $0.description.count }.max() ?? 0)
        for (index, instance) in state.instances.enumerated() {
            let endpoint = redlock.instances.endpoints[index].description
            let word = InstanceStateText.state(of: index, in: state)
            var detail = ""
            switch instance {
            case let .held(holdings):
                let first = holdings.first
                detail = first?.remaining.map { "ttl " + DurationSyntax.formatRough($0) } ?? "no ttl"
                if word == "other", let first { detail += ", by " + InstanceStateText.holder(first.value) }
            case let .failed(error): detail = error.withFlagHint
            case .free: detail = ""
            }
            let row = "  " + endpoint.padding(to: width + 1) + word.padding(to: 13) + detail
            lines.append(InstanceStateText.clipped(row.trimmingTrailingSpaces, to: 100))
        }
        let count = "\(state.holderCount) of \(state.quorum.instances) instances, \(state.quorum.needed) needed"
        switch state.verdict {
        case .held: lines.append("  verdict: held by a quorum (\(count))")
        case .free: lines.append("  verdict: free (\(state.reachable) of \(state.quorum.instances) instances answered)")
        case .split: lines.append("  verdict: split, no quorum holds it (\(count))")
        case .unknown: lines.append("  verdict: unknown, fewer than a quorum answered (\(state.reachable) of \(state.quorum.instances) instances, \(state.quorum.needed) needed)")
        }
        lines += QueueText.inspectLines(redlock.waitingLine(key: state.key), instances: redlock.quorum.instances)
        return lines.joined(separator: "\n")
    }

    static func json(_ states: [KeyState], config: Config, redlock: Redlock) -> JSONValue {
        .object([
            ("quorum", .integer(Int64(redlock.quorum.needed))),
            ("instances", .array(redlock.instances.endpoints.map { .string($0.description) })),
            ("locks", .array(states.map { state in
                var holder: JSONValue = .null
                if let raw = state.holder {
                    if let value = LockValue.decode(raw) {
                        let at = value.holder.acquiredAtMilliseconds
                        holder = .object([
                            ("redlock", .bool(true)),
                            ("host", .string(value.holder.host)),
                            ("pid", .integer(Int64(value.holder.pid))),
                            ("user", .string(value.holder.user)),
                            ("command", .string(value.holder.command)),
                            ("acquired_at", at > 0 ? .string(TimeFormat.rfc3339(millisecondsSinceEpoch: at)) : .null),
                            ("age_ms", at > 0 ? .integer(max(0, WallClock.millisecondsSinceEpoch() - at)) : .null),
                            ("token", .string(value.token)),
                            ("fencing_token", .optional(value.fence)),
                            ("ended", InstanceStateText.holderEnded(value).map(JSONValue.bool) ?? .null),
                        ])
                    } else {
                        holder = .object([("redlock", .bool(false)), ("raw", .string(TerminalText.escaped(bytes: raw)))])
                    }
                }
                let line = redlock.waitingLine(key: state.key)
                return .object([
                    ("key", .string(displayName(state.key, config: config))),
                    ("verdict", .string(state.verdict.rawValue)),
                    ("holder", holder),
                    ("holders", ModeHolders.json(state)),
                    ("queue", QueueText.json(line)),
                    ("queue_unread", .integer(Int64(line.unread.count))),
                    ("instances", .array(state.instances.enumerated().map { index, instance in
                        var ttl: JSONValue = .null
                        var error: JSONValue = .null
                        switch instance {
                        case let .held(holdings): ttl = .optional(holdings.first?.remaining?.milliseconds)
                        case let .failed(failure): error = .string(failure.withFlagHint)
                        case .free: break
                        }
                        return .object([
                            ("instance", .string(redlock.instances.endpoints[index].description)),
                            ("state", .string(InstanceStateText.state(of: index, in: state))),
                            ("ttl_ms", ttl),
                            ("error", error),
                        ])
                    })),
                ])
            })),
        ])
    }

    /// The prefix as a literal inside a SCAN MATCH pattern.
    private static func escapedGlob(_ prefix: [UInt8]) -> [UInt8] {
        prefix.flatMap { "*?[]\\".utf8.contains($0) ? [UInt8(ascii: "\\"), $0] : [$0] }
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
