/// What the instances say about a key right now, for `inspect` and `force-release`.
public struct KeyState: Sendable {
    public enum InstanceState: Sendable {
        case free
        case held(value: [UInt8], remaining: Duration?)
        case failed(RedisError)
    }

    public enum Verdict: String, Sendable {
        /// One holder on a quorum of instances.
        case held
        /// No holder anywhere that answered.
        case free
        /// Held somewhere, but no holder has a quorum.
        case split
    }

    public let key: [UInt8]
    public let instances: [InstanceState]
    public let quorum: Int

    /// The holder most instances report: its value from one of them (redlock values of one
    /// token count as one holder even when their fence fields differ).
    public var holder: [UInt8]? { majority?.value }

    /// How many instances report that holder.
    public var holderCount: Int { majority?.count ?? 0 }

    public var reachable: Int {
        instances.filter { if case .failed = $0 { return false } else { return true } }.count
    }

    public var verdict: Verdict {
        if holderCount >= quorum { return .held }
        if holderCount == 0 { return .free }
        return .split
    }

    /// Whether the value on one instance is the majority holder's.
    public func isMajorityHolder(_ value: [UInt8]) -> Bool {
        guard let holder else { return false }
        return Self.identity(of: value) == Self.identity(of: holder)
    }

    private var majority: (value: [UInt8], count: Int)? {
        var counts: [[UInt8]: (value: [UInt8], count: Int)] = [:]
        for case let .held(value, _) in instances {
            let identity = Self.identity(of: value)
            counts[identity] = (counts[identity]?.value ?? value, (counts[identity]?.count ?? 0) + 1)
        }
        return counts.values.max { $0.count < $1.count }
    }

    /// A redlock value is identified by its token; any other value by its bytes.
    static func identity(of value: [UInt8]) -> [UInt8] {
        LockValue.decode(value).map { Array($0.token.utf8) } ?? value
    }
}

extension Redlock {
    /// GET and PTTL of every key on every instance, in one round.
    public func inspect(_ keys: [[UInt8]]) -> [KeyState] {
        guard !keys.isEmpty else { return [] }
        let pipeline = keys.flatMap { [Command("GET", [$0]), Command("PTTL", [$0])] }
        let results = instances.round(Array(repeating: pipeline, count: instances.count))
        return keys.enumerated().map { position, key in
            let states: [KeyState.InstanceState] = results.map { result in
                switch result {
                case let .success(replies)?:
                    let get = replies[2 * position], pttl = replies[2 * position + 1]
                    switch get {
                    case .null: return .free
                    case let .bulk(value):
                        let remaining = pttl.integer.flatMap { $0 >= 0 ? Duration.milliseconds($0) : nil }
                        return .held(value: value, remaining: remaining)
                    case let .error(message): return .failed(RedisError(errorReply: message))
                    default: return .failed(.unexpectedReply("\(get)"))
                    }
                case let .failure(error)?: return .failed(error)
                case nil: return .failed(.connectionClosed)
                }
            }
            return KeyState(key: key, instances: states, quorum: quorum)
        }
    }

    /// Every key matching `pattern` (Redis glob) on any instance, found with SCAN, never
    /// KEYS, so a large instance is not blocked. Fencing counters are left out.
    public func scan(matching pattern: [UInt8]) -> (keys: [[UInt8]], failures: [InstanceError]) {
        var cursors: [String?] = Array(repeating: "0", count: instances.count)
        var found: Set<[UInt8]> = []
        var failures: [InstanceError] = []
        var rounds = 0
        repeat {
            rounds += 1
            let requests: [[Command]?] = cursors.map { cursor in
                cursor.map { [Command("SCAN", [Array($0.utf8), Array("MATCH".utf8), pattern, Array("COUNT".utf8), Array("1000".utf8)])] }
            }
            let results = instances.round(requests)
            for (index, result) in results.enumerated() {
                guard let result else { continue }
                switch InstanceSet.single(result) {
                case let .success(.array(items)) where items.count == 2:
                    let next = items[0].text ?? "0"
                    for case let .bulk(key) in items[1].elements ?? [] where !LockKeys.isFenceKey(key) { found.insert(key) }
                    cursors[index] = next == "0" ? nil : next
                case let .success(other):
                    failures.append(InstanceError(endpoint: instances.endpoints[index], error: .unexpectedReply("\(other)")))
                    cursors[index] = nil
                case let .failure(error):
                    failures.append(InstanceError(endpoint: instances.endpoints[index], error: error))
                    cursors[index] = nil
                }
            }
        } while cursors.contains(where: { $0 != nil }) && rounds < 100_000
        return (found.sorted { $0.lexicographicallyPrecedes($1) }, failures)
    }

    /// Deletes `key` on every instance whoever holds it, or with `token` only where the
    /// holder's token is that one. Per instance: whether it deleted the key, or why not.
    public func forceRelease(_ key: [UInt8], token: String?) -> [Result<Bool, RedisError>] {
        let prefix = token.map { LockValue.ownershipPrefix(token: $0) } ?? []
        let channel = LockKeys.releaseChannel(for: key)
        return instances.evaluate(Scripts.forceRelease, keys: [key], arguments: [prefix, channel]).map { result in
            switch result {
            case .success(.integer(let deleted))?: return .success(deleted > 0)
            case let .success(other)?: return .failure(.unexpectedReply("\(other)"))
            case let .failure(error)?: return .failure(error)
            case nil: return .failure(.connectionClosed)
            }
        }
    }
}
