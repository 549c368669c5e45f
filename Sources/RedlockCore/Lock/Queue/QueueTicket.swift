/// A waiter's place in a key's queue, the same bytes on every instance:
///
///     <order key, 19 digits>:<join time, ms, 13 digits>:<waiter id> <flags> host=... pid=... user=...
///
/// The queue (`{KEY}:queue`, a hash: ticket -> last heartbeat in the server's ms) is served
/// in the byte order of its tickets, so every instance agrees on who is first whatever
/// order the joins arrived in. The join time is the waiter's own wall clock, taken once:
/// a clock that is off between hosts only reorders waiters that joined within that skew of
/// each other, and never makes two instances disagree (the ticket does not change). Without
/// `--order-key` the order key is all nines, so waiters with keys go first. The waiter id is
/// random and chosen by the client, so a join whose reply was lost is simply sent again.
public struct QueueTicket: Sendable, Equatable {
    public let orderKey: Int64?
    public let joinedAtMilliseconds: Int64
    public let waiterID: String
    /// `--supersede`: a newer waiter joining wakes this one so that it gives up.
    public let supersedable: Bool
    public let holder: HolderInfo
    /// The ticket as stored (the hash field).
    public let encoded: [UInt8]

    /// The order key used when none is given: above every Int64, so keyed waiters go first.
    static let unkeyed = "9999999999999999999"

    public init(orderKey: Int64?, joinedAtMilliseconds: Int64, waiterID: String, supersedable: Bool, holder: HolderInfo) {
        self.orderKey = orderKey
        self.joinedAtMilliseconds = joinedAtMilliseconds
        self.waiterID = waiterID
        self.supersedable = supersedable
        self.holder = holder
        let order = orderKey.map { Self.padded($0, to: 19) } ?? Self.unkeyed
        // Built in place, as LockValue's: no generic `joined(separator:)` on the way to the first acquire.
        var text = order + ":" + Self.padded(joinedAtMilliseconds, to: 13) + ":" + waiterID + (supersedable ? " s" : " -")
        text += " host=" + LockValue.escape(holder.host)
        text += " pid=" + String(holder.pid)
        text += " user=" + LockValue.escape(holder.user)
        encoded = Array(text.utf8)
    }

    /// A new ticket for a waiter joining now.
    public static func fresh(orderKey: Int64?, supersedable: Bool, holder: HolderInfo) -> QueueTicket {
        QueueTicket(orderKey: orderKey, joinedAtMilliseconds: WallClock.millisecondsSinceEpoch(),
                    waiterID: SecureRandom.urlSafeToken(byteCount: 9), supersedable: supersedable, holder: holder)
    }

    /// Reads a ticket from a queue; nil for bytes redlock did not write.
    public static func decode(_ bytes: [UInt8]) -> QueueTicket? {
        let text = String(decoding: bytes, as: UTF8.self)
        let words = text.split(separator: " ", omittingEmptySubsequences: false)
        guard words.count >= 2 else { return nil }
        let order = words[0].split(separator: ":", omittingEmptySubsequences: false)
        guard order.count == 3, let key = Int64(order[0]) ?? (order[0] == Substring(unkeyed) ? -1 : nil),
              let joined = Int64(order[1]), !order[2].isEmpty else { return nil }
        var holder = HolderInfo.unknown
        for word in words.dropFirst(2) {
            guard let equals = word.firstIndex(of: "=") else { continue }
            let value = LockValue.unescape(word[word.index(after: equals)...])
            switch word[..<equals] {
            case "host": holder.host = value
            case "pid": holder.pid = Int32(value) ?? 0
            case "user": holder.user = value
            default: continue
            }
        }
        return QueueTicket(orderKey: key < 0 ? nil : key, joinedAtMilliseconds: joined, waiterID: String(order[2]), supersedable: words[1] == "s", holder: holder)
    }

    private static func padded(_ number: Int64, to width: Int) -> String {
        let digits = String(max(0, number))
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// The channel this waiter listens on: a release wakes only the head of the queue.
    public func channel(for key: [UInt8]) -> [UInt8] { QueueKeys.waiterChannelPrefix(for: key) + Array(waiterID.utf8) }
}

/// The names of a key's queue, in the key's hash slot.
public enum QueueKeys {
    /// `deploy` -> `{deploy}:queue`; `{jobs}.nightly` -> `{jobs}.nightly:queue`.
    public static func queueKey(for key: [UInt8]) -> [UInt8] { helperKey(key, "queue") }
    /// `--if-newer`'s high-water mark: `{deploy}:mark`.
    public static func markKey(for key: [UInt8]) -> [UInt8] { helperKey(key, "mark") }

    /// Where a waiter's own channel name starts: `redlock:queue:<key>:` (the acquire script
    /// makes the same name itself).
    public static func waiterChannelPrefix(for key: [UInt8]) -> [UInt8] { Array("redlock:queue:".utf8) + key + [UInt8(ascii: ":")] }

    /// Whether a Redis key is a queue or a mark rather than a lock (inspect leaves it out).
    public static func isHelperKey(_ key: [UInt8]) -> Bool {
        for suffix in [":queue", ":mark"] {
            let tail = Array(suffix.utf8)
            guard key.count > tail.count, Array(key.suffix(tail.count)) == tail else { continue }
            if LockKeys.hasHashTag(Array(key.dropLast(tail.count))) || key.first == UInt8(ascii: "{") { return true }
        }
        return false
    }

    private static func helperKey(_ key: [UInt8], _ name: String) -> [UInt8] {
        LockKeys.hasHashTag(key) ? key + Array(":\(name)".utf8) : [UInt8(ascii: "{")] + key + Array("}:\(name)".utf8)
    }
}
