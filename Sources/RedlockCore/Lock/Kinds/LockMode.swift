/// The lock modes of one KEY, and the keys they use. Exclusive and shared are the two sides
/// of one reader/writer lock; a limit (or named slots) is a set of ordinary mutexes. A key
/// keeps one mode while anyone holds it, so the two families never mix on one KEY.
///
/// Every mode is safe over independent masters for the same reason as the plain lock: each
/// conflict is between two holders, each holder stands on a majority, two majorities share
/// an instance, and on that instance the check-and-grant is one atomic script. Counting
/// holders per instance (a semaphore granted on a majority of "count < N") is not used: with
/// 3 instances and 2 permits, holders on {1,2}, {2,3} and {1,3} each hold a majority while
/// every instance counts only 2.
public enum LockMode: Sendable, Equatable {
    case exclusive
    case shared
    /// N slots, each an ordinary mutex: `--limit N` names them 1..N, `--slots A,B,C` by name.
    case slots([[UInt8]], named: Bool)

    /// What the mode key stores, and what a refusal names: "limit 3", "slots a,b,c".
    public var description: String {
        switch self {
        case .exclusive: return "exclusive"
        case .shared: return "shared"
        case let .slots(names, named):
            return named ? "slots " + names.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",") : "limit \(names.count)"
        }
    }
}

extension LockKeys {
    /// What every key derived from a lock's key starts with, in its hash tag: `deploy` ->
    /// `{deploy}`, `{jobs}.nightly` -> itself. The mode scripts take it as an argument and
    /// name the helper keys from it: an unauthenticated client may send at most 10
    /// arguments (Redis answers more with a protocol error, not NOAUTH), so the scripts keep
    /// under that.
    public static func tagBase(for key: [UInt8]) -> [UInt8] {
        hasHashTag(key) ? key : [UInt8(ascii: "{")] + key + [UInt8(ascii: "}")]
    }

    /// A key derived from a lock's key in its hash tag: `deploy` -> `{deploy}<suffix>`.
    static func derived(_ key: [UInt8], _ suffix: String) -> [UInt8] { tagBase(for: key) + Array(suffix.utf8) }

    /// The sorted set of shared holders: member = holder value, score = its expiry (ms, the
    /// server's TIME), so each shared holder expires on its own.
    public static func sharedKey(for key: [UInt8]) -> [UInt8] { derived(key, ":shared") }
    /// "An exclusive holder is waiting": set by a writer refused by shared holders, with a
    /// short TTL the waiting writer refreshes; no new shared holder joins while it stands.
    public static func writerKey(for key: [UInt8]) -> [UInt8] { derived(key, ":writer") }
    /// The mode of a key used with a limit or named slots ("limit 3"), written with the
    /// first holder, expiring with the last.
    public static func modeKey(for key: [UInt8]) -> [UInt8] { derived(key, ":mode") }
    /// What every slot key starts with: `{deploy}:slot:`.
    public static func slotPrefix(for key: [UInt8]) -> [UInt8] { derived(key, ":slot:") }
    public static func slotKey(for key: [UInt8], name: [UInt8]) -> [UInt8] { slotPrefix(for: key) + name }

    /// The lock a mode's shared set or mode key belongs to (`{deploy}:shared` -> `deploy`),
    /// so that a lock held only shared or in slots is listed by its KEY; nil for other keys.
    public static func lockKey(ofModeKey key: [UInt8]) -> [UInt8]? {
        for suffix in [":shared", ":mode"] {
            let tail = Array(suffix.utf8)
            guard key.count > tail.count, Array(key.suffix(tail.count)) == tail else { continue }
            let base = Array(key.dropLast(tail.count))
            guard hasHashTag(base) else { return nil }
            // `{deploy}` without anything around the tag was made from `deploy`.
            if base.first == UInt8(ascii: "{"), base.last == UInt8(ascii: "}"), !base.dropFirst().dropLast().contains(where: { $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "}") }) {
                return Array(base.dropFirst().dropLast())
            }
            return base
        }
        return nil
    }

    /// Whether a Redis key is one of the helper keys of a mode (left out of listings).
    public static func isModeHelperKey(_ key: [UInt8]) -> Bool {
        guard key.first == UInt8(ascii: "{") || hasHashTag(key) else { return false }
        let text = String(decoding: key, as: UTF8.self)
        return text.hasSuffix(":shared") || text.hasSuffix(":writer") || text.hasSuffix(":mode") || text.contains("}:slot:")
    }
}

/// A refusal because KEY is in use in another mode: a configuration error, not contention.
/// The scripts answer {-1, mode}; decoded as a permanent failure with this prefix, so a
/// waiting acquire gives up at once (WaitPolicy) and the CLI exits 78 naming the mode.
public enum ModeConflict {
    static let marker = "REDLOCKMODE "

    static func verdict(_ mode: Reply) -> Verdict {
        .failed(.server(marker + (mode.text ?? "another mode")), permanent: true)
    }

    /// The mode in use, when `error` is a mode refusal.
    public static func modeInUse(_ error: RedisError) -> String? {
        guard case let .server(message) = error, message.hasPrefix(marker) else { return nil }
        return String(message.dropFirst(marker.count))
    }
}

extension Ballot {
    /// The mode KEY is in use in, when some instance refused for that reason.
    public var modeConflict: String? {
        verdicts.lazy.compactMap { $0?.error.flatMap(ModeConflict.modeInUse) }.first
    }
}

extension Contention {
    public var modeConflict: String? { ballot.modeConflict }
}

/// Lua shared by the mode scripts. `now`: the server's clock in ms (TIME), so expiries are
/// the instance's own, as PX is. `slotsLive(mode, prefix)`: whether any slot of a stored
/// mode is held (a mode key left behind by a crash does not refuse anyone).
enum ModeLua {
    static let prelude = """
        local function nowMs()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        local function slotNames(mode)
          local names = {}
          local n = string.match(mode, '^limit (%d+)$')
          if n then
            for i = 1, tonumber(n) do names[#names + 1] = tostring(i) end
          else
            for name in string.gmatch(string.sub(mode, 7), '[^,]+') do names[#names + 1] = name end
          end
          return names
        end
        local function slotsLive(mode, prefix)
          for _, name in ipairs(slotNames(mode)) do
            if redis.call('EXISTS', prefix .. name) == 1 then return true end
          end
          return false
        end
        local function ownerPrefix(value)
          return string.match(value, '^%S+ %S+ ') or value
        end
        local function owns(value, prefix)
          return value and string.sub(value, 1, #prefix) == prefix
        end
        local function fenceOf(value)
          return tonumber(string.match(value, ' fence=(%d+)$') or '0') or 0
        end

        """
}
