/// The names redlock derives from a lock's key. Each keeps the key's Redis Cluster hash
/// tag, so the scripts that touch both stay in one slot.
public enum LockKeys {
    /// The key of `key`'s fencing counter: `deploy` -> `{deploy}:fence`;
    /// `{jobs}.nightly` -> `{jobs}.nightly:fence`.
    public static func fenceKey(for key: [UInt8]) -> [UInt8] {
        hasHashTag(key) ? key + Array(":fence".utf8) : [UInt8(ascii: "{")] + key + Array("}:fence".utf8)
    }

    /// Whether a Redis key has the form of a fencing counter rather than a lock.
    public static func isFenceKey(_ key: [UInt8]) -> Bool {
        let suffix = Array(":fence".utf8)
        guard key.count > suffix.count, Array(key.suffix(suffix.count)) == suffix else { return false }
        return hasHashTag(Array(key.dropLast(suffix.count))) || key.first == UInt8(ascii: "{")
    }

    /// The channel a release of `key` is announced on, so waiters retry at once instead
    /// of polling: `redlock:released:<key>`.
    public static func releaseChannel(for key: [UInt8]) -> [UInt8] {
        Array("redlock:released:".utf8) + key
    }

    /// Whether `key` has a non-empty `{...}` hash tag.
    static func hasHashTag(_ key: [UInt8]) -> Bool {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")),
              let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")) else { return false }
        return close > open + 1
    }
}
