import RedlockCore

/// `-x/--exclusive`, `-s/--shared`, `-l/--limit N` and `--slots A,B,C`: which mode `run` and
/// `acquire` take KEY in (SPEC "Lock modes"), and what a KEY in use in another mode says.
extension LockWaiting {
    static func mode(_ invocation: Invocation) throws(Failure) -> LockMode {
        let command = invocation.command?.rawValue
        let given = ["exclusive", "shared", "limit", "slots"].filter(invocation.has)
        if given.count > 1 {
            throw Failure.usage("--\(given[0]) and --\(given[1]) exclude each other (one mode per lock)", command: command)
        }
        if let limit = try Config.integer(invocation, "limit", in: 1...1000) {
            return .slots((1...limit).map { Array(String($0).utf8) }, named: false)
        }
        if let list = invocation.last("slots") {
            let names = list.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard !names.contains(where: \.isEmpty) else {
                throw Failure.usage("--slots takes names separated by commas, not '\(list)'", command: command)
            }
            guard Set(names).count == names.count else {
                throw Failure.usage("--slots names a slot twice in '\(list)'", command: command)
            }
            guard names.count <= 1000 else { throw Failure.usage("--slots takes at most 1000 names", command: command) }
            return .slots(names.map { Array($0.utf8) }, named: true)
        }
        return invocation.has("shared") ? .shared : .exclusive
    }

    /// The options that order holders one after another, which shared holders and slots
    /// (several holders at once, racing rather than in line) cannot honour: accepted with
    /// them, they were silently ignored (a review found two `-s --if-newer` runs at once, and
    /// `-s --once` running again), so they are a usage error.
    static func refuseExclusiveOnlyOptions(_ invocation: Invocation, in mode: LockMode) throws(Failure) {
        guard mode != .exclusive, let option = ["if-newer", "once", "supersede", "order-key"].first(where: invocation.has) else { return }
        let modeOption = ["shared", "limit", "slots"].first(where: invocation.has) ?? "shared"
        throw Failure.usage("--\(option) needs an exclusive lock, not --\(modeOption) (holders in that mode run side by side and do not wait in line)", command: invocation.command?.rawValue)
    }

    /// The lock's kind for `key` (with any prefix): a writer that will not wait does not
    /// hold shared holders off with a "writer waiting" mark.
    func kind(for key: [UInt8]) -> any LockKind {
        switch mode {
        case .exclusive: return Exclusive(marksWaiting: waitLimit == .zero ? .zero : Exclusive.writerMarkTTL)
        case .shared: return Shared()
        case let .slots(names, named): return Slots(key: key, names: names, named: named)
        }
    }

    /// The slot a lease holds, for `REDLOCK_SLOT`; nil outside slot modes.
    static func slot(of lease: Lease, in redlock: Redlock) -> [UInt8]? {
        (redlock.kind as? Slots)?.slotName(of: lease.key)
    }

    /// Whether a lease of `redlock` names a slot (REDLOCK_SLOT): `slot(of:in:)` is non-nil
    /// for its leases.
    static func namesSlots(_ redlock: Redlock) -> Bool {
        redlock.kind is Slots
    }

    /// 78: KEY is held in another mode, which no waiting changes.
    func modeConflict(_ inUse: String) -> Failure {
        let wanted = mode == .exclusive || mode == .shared ? mode.description : mode.description
        return Failure(.configuration, "'\(keyName)' is in use as \(Self.article(inUse)); cannot take it as \(Self.article(wanted)) (a key keeps one mode while anyone holds it)")
    }

    private static func article(_ mode: String) -> String {
        mode == "exclusive" || mode == "shared" ? "\(mode) lock" : mode
    }
}
