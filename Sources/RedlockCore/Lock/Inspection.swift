/// What the instances say about a key right now, for `inspect` and `force-release`. The
/// verdict and the holder shown are decided once, when it is made, by Quorum's rules: every
/// row, headline and exit status reads the same answer.
public struct KeyState: Sendable {
    public enum InstanceState: Sendable {
        case free
        /// Held by these holders (one for an exclusive lock).
        case held([Holding])
        case failed(RedisError)
    }

    public enum Verdict: String, Sendable {
        /// One holder on a quorum of instances.
        case held
        /// No holder anywhere, and a quorum answered.
        case free
        /// Held somewhere, but no holder has a quorum (and a quorum answered).
        case split
        /// Fewer than a quorum answered, and no holder has a quorum: nothing can be said.
        case unknown
    }

    public let key: [UInt8]
    public let instances: [InstanceState]
    public let quorum: Quorum
    /// The holder shown: on most instances, a tie going to the lowest instance (its value
    /// from the first of them; redlock values of one token are one holder).
    public let holder: [UInt8]?
    /// The instances where that holder stands.
    public let holderInstances: [Int]
    public let verdict: Verdict

    public init(key: [UInt8], instances: [InstanceState], quorum: Quorum) {
        self.key = key
        self.instances = instances
        self.quorum = quorum
        let values = instances.indices.flatMap { index -> [(instance: Int, value: [UInt8])] in
            guard case let .held(holdings) = instances[index] else { return [] }
            return holdings.map { (index, $0.value) }
        }
        let leading = Quorum.leadingHolder(values, identity: Self.identity)
        holder = leading?.value
        holderInstances = leading?.instances ?? []
        let answered = instances.filter { if case .failed = $0 { return false } else { return true } }.count
        if quorum.isReached(by: holderInstances.count) {
            verdict = .held
        } else if !quorum.answered(answered) {
            verdict = .unknown
        } else {
            verdict = holderInstances.isEmpty ? .free : .split
        }
    }

    /// How many instances report the holder shown.
    public var holderCount: Int { holderInstances.count }

    /// How many instances answered.
    public var reachable: Int {
        instances.filter { if case .failed = $0 { return false } else { return true } }.count
    }

    /// Whether instance `index` holds the holder shown (its row says "held", not "other").
    public func holdsLeadingHolder(_ index: Int) -> Bool { holderInstances.contains(index) }

    /// The failures, by instance.
    public var failures: [(instance: Int, error: RedisError)] {
        instances.indices.compactMap { index in
            if case let .failed(error) = instances[index] { return (index, error) } else { return nil }
        }
    }

    /// A redlock value is identified by its token; any other value by its bytes.
    public static func identity(of value: [UInt8]) -> [UInt8] {
        LockValue.decode(value).map { Array($0.token.utf8) } ?? value
    }
}

extension Redlock {
    /// The kind's read-only inspect script for every key on every instance, in one round
    /// (sent whole, in a second round, where an instance has not cached it).
    public func inspect(_ keys: [[UInt8]]) -> [KeyState] {
        guard !keys.isEmpty else { return [] }
        let calls = keys.map { kind.inspect(key: $0) }
        let bySHA = calls.map { $0.script.evalSHA(keys: $0.keys, arguments: $0.arguments) }
        var results = instances.round(Array(repeating: bySHA, count: instances.count), label: "inspect", decided: quorum.answered, patience: .complete)
        // Where the script was not cached: those positions again, whole.
        let missing: [[Int]] = results.map { result in
            guard case let .success(replies)? = result else { return [] }
            return replies.indices.filter { replies[$0].errorMessage?.hasPrefix("NOSCRIPT") == true }
        }
        if missing.contains(where: { !$0.isEmpty }) {
            let whole: [[Command]?] = missing.map { positions in
                positions.isEmpty ? nil : positions.map { calls[$0].script.eval(keys: calls[$0].keys, arguments: calls[$0].arguments) }
            }
            let retried = instances.round(whole, label: "inspect (loading the script)")
            for (index, positions) in missing.enumerated() where !positions.isEmpty {
                switch retried[index] {
                case let .success(replies)?:
                    guard case var .success(first)? = results[index] else { continue }
                    for (offset, position) in positions.enumerated() where offset < replies.count { first[position] = replies[offset] }
                    results[index] = .success(first)
                case let .failure(error)?: results[index] = .failure(error)
                case nil: break
                }
            }
        }
        return keys.indices.map { position in
            let states: [KeyState.InstanceState] = results.map { result in
                switch result {
                case let .success(replies)?:
                    guard position < replies.count else { return .failed(.unexpectedReply("no reply")) }
                    if case let .error(message) = replies[position] { return .failed(RedisError(errorReply: message)) }
                    return kind.inspectState(replies[position])
                case let .failure(error)?: return .failed(error)
                case nil: return .failed(.connectionClosed)
                }
            }
            return KeyState(key: keys[position], instances: states, quorum: quorum)
        }
    }

    /// How many keys a scan collects at most: far more locks than any deployment holds, and
    /// a bound on what a server can make redlock keep (one that answers every SCAN with new
    /// names and a cursor that never ends made `inspect` grow to gigabytes).
    public static let scanLimit = 10_000
    /// How many names a scan looks at, at most, when a filter keeps only some: a Redis of a
    /// million keys is listed whole; a server inventing names forever is not followed on.
    public static let scanBudget = 1_000_000

    /// Why a scan stopped before the end: more than `scanLimit` keys kept, or more than
    /// `scanBudget` names looked at.
    public enum ScanStop: Sendable { case tooManyKept, tooManyScanned }

    /// Every key matching `pattern` (Redis glob) on any instance, found with SCAN, never
    /// KEYS, so a large instance is not blocked. Fencing counters are left out. `keeping`,
    /// asked about each page's new names, returns those to keep (all by default): `inspect`
    /// keeps only locks, so an application's keys do not count toward `scanLimit`. `stopped`
    /// is set when the scan ended early.
    public func scan(matching pattern: [UInt8], keeping: (([[UInt8]]) -> [[UInt8]])? = nil) -> (keys: [[UInt8]], failures: [InstanceError], stopped: ScanStop?) {
        var cursors: [String?] = Array(repeating: "0", count: instances.count)
        var found: Set<[UInt8]> = []
        var seen = 0
        var failures: [InstanceError] = []
        var rounds = 0
        var stopped: ScanStop?
        repeat {
            rounds += 1
            let requests: [[Command]?] = cursors.map { cursor in
                cursor.map { [Command("SCAN", [Array($0.utf8), Array("MATCH".utf8), pattern, Array("COUNT".utf8), Array("1000".utf8)])] }
            }
            let results = instances.round(requests, decided: quorum.answered, patience: .complete)
            var page: Set<[UInt8]> = []
            for (index, result) in results.enumerated() {
                guard let result else { continue }
                switch InstanceSet.single(result) {
                case let .success(.array(items)) where items.count == 2:
                    let next = items[0].text ?? "0"
                    for case let .bulk(key) in items[1].elements ?? [] {
                        // A lock held only shared or in slots shows as its KEY.
                        if let lock = LockKeys.lockKey(ofModeKey: key) { page.insert(lock) } else if !kind.isHelperKey(key) { page.insert(key) }
                    }
                    cursors[index] = next == "0" ? nil : next
                case let .success(other):
                    failures.append(InstanceError(endpoint: instances.endpoints[index], error: .unexpectedReply("\(other)")))
                    cursors[index] = nil
                case let .failure(error):
                    failures.append(InstanceError(endpoint: instances.endpoints[index], error: error))
                    cursors[index] = nil
                }
            }
            let new = page.subtracting(found).sorted { $0.lexicographicallyPrecedes($1) }
            seen += new.count
            found.formUnion(keeping.map { $0(new) } ?? new)
            if found.count > Self.scanLimit { stopped = .tooManyKept } else if seen > Self.scanBudget { stopped = .tooManyScanned }
        } while cursors.contains(where: { $0 != nil }) && rounds < 100_000 && stopped == nil
        if stopped == nil && cursors.contains(where: { $0 != nil }) { stopped = .tooManyScanned }
        return (Array(found.sorted { $0.lexicographicallyPrecedes($1) }.prefix(Self.scanLimit)), failures, stopped)
    }

    /// Deletes `key` on every instance whoever holds it, or with `token` only where the
    /// holder's token is that one; wakes waiters. Every instance is waited for: an operator
    /// is told what happened on each.
    public func forceRelease(_ key: [UInt8], token: LockToken?) -> ForceRelease {
        let ballot = vote(kind.forceRelease(key: key, token: token), decode: kind.stepVerdict) { _ in false }
        return ForceRelease(ballot: ballot, quorum: quorum)
    }
}

/// What `force-release` did on each instance, and whether a quorum answered.
public struct ForceRelease: Sendable {
    public let ballot: Ballot
    public let quorum: Quorum

    /// Per instance: whether it deleted the key, or why not.
    public var results: [Result<Bool, RedisError>] {
        ballot.verdicts.map { verdict in
            switch verdict {
            case .granted?: return .success(true)
            case .refused?: return .success(false)
            case let .failed(error, _)?: return .failure(error)
            case nil: return .failure(.connectionClosed)
            }
        }
    }

    /// Whether a quorum answered (else 69: what was deleted elsewhere cannot be known).
    public var quorumAnswered: Bool { quorum.answered(ballot.granted + ballot.refused) }
    public var deletedAnywhere: Bool { ballot.granted > 0 }
}
