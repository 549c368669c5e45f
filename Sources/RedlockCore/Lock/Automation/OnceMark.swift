/// `run --once ID`: the done mark that makes COMMAND run at most once per KEY and ID.
///
/// The mark is a key of its own, `{KEY}:once:ID` (KEY's hash tag, so a cluster routes it
/// with the lock), written after COMMAND exited 0 by a script that first checks that our
/// token still holds KEY there, with a TTL (`--once-keep`). It is read after acquiring and
/// before COMMAND starts. Both happen under the lock, and both touch a quorum: any two
/// majorities share an instance, so a mark written on a quorum is seen by every later read
/// that a quorum answers, even after one instance restarted empty. Hence "present on any
/// answering instance" means done: a read never needs the mark on a majority.
public enum OnceMark {
    static let separator = Array(":once:".utf8)

    /// `deploy` + `2026-12-01` -> `{deploy}:once:2026-12-01`; `{jobs}.nightly` -> `{jobs}.nightly:once:...`.
    public static func key(for lockKey: [UInt8], id: [UInt8]) -> [UInt8] {
        let base = LockKeys.hasHashTag(lockKey) ? lockKey : [UInt8(ascii: "{")] + lockKey + [UInt8(ascii: "}")]
        return base + separator + id
    }

    /// Whether a Redis key has the form of a done mark rather than a lock (left out of
    /// inspect's listings): a hash tag, then `:once:` after it.
    public static func isMarkKey(_ key: [UInt8]) -> Bool {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")),
              let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 else { return false }
        let rest = key[(close + 1)...]
        guard rest.count > separator.count else { return false }
        var index = rest.startIndex
        while index + separator.count <= rest.endIndex {
            if Array(rest[index..<(index + separator.count)]) == separator { return true }
            index += 1
        }
        return false
    }

    /// What a mark holds, for people (`inspect`, the skip message): who marked it done, when.
    public struct Record: Sendable, Equatable {
        public var host: String
        public var pid: Int32
        public var atMilliseconds: Int64
        public var fence: Int64

        public init(host: String, pid: Int32, atMilliseconds: Int64, fence: Int64) {
            self.host = host
            self.pid = pid
            self.atMilliseconds = atMilliseconds
            self.fence = fence
        }

        /// `redlock-once host=web-3 pid=4242 at=1764554400000 fence=17`: no token in it.
        public var encoded: [UInt8] {
            Array("\(OnceMark.marker) host=\(LockValue.escape(host)) pid=\(pid) at=\(atMilliseconds) fence=\(fence)".utf8)
        }

        /// Reads a mark redlock wrote; nil for anything else.
        public static func decode(_ bytes: [UInt8]) -> Record? {
            let words = String(decoding: bytes, as: UTF8.self).split(separator: " ")
            guard words.first.map(String.init) == OnceMark.marker else { return nil }
            var record = Record(host: "", pid: 0, atMilliseconds: 0, fence: 0)
            for word in words.dropFirst() {
                guard let equals = word.firstIndex(of: "=") else { continue }
                let value = word[word.index(after: equals)...]
                switch word[..<equals] {
                case "host": record.host = LockValue.unescape(value)
                case "pid": record.pid = Int32(value) ?? 0
                case "at": record.atMilliseconds = Int64(value) ?? 0
                case "fence": record.fence = Int64(value) ?? 0
                default: continue
                }
            }
            return record
        }
    }

    static let marker = "redlock-once"

    /// KEYS[1] = the mark. Read-only: its value, or nil.
    static let read = LuaScript("onceRead", sha1: "d3c21d0c2b9ca22f82737626a27bcaf5d288f99f", """
        return redis.call('GET', KEYS[1])
        """)

    /// KEYS[1] = the lock key, KEYS[2] = the mark; ARGV[1] = our ownership prefix, ARGV[2] =
    /// the mark's value, ARGV[3] = how long it is kept, in ms. Writes the mark only where our
    /// token still holds the lock: a lease that lapsed meanwhile must not mark the work done
    /// for a holder that may be doing it now. Returns 1 when written, 0 when not ours.
    static let write = LuaScript("onceWrite", sha1: "2e9645bb2dba8f07cfb64e86b25aa6900ad2c1bf", """
        local value = redis.call('GET', KEYS[1])
        if value and string.sub(value, 1, #ARGV[1]) == ARGV[1] then
          redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
          return 1
        end
        return 0
        """)
}

/// What the read of a done mark found.
public enum OnceCheck: Sendable {
    /// A quorum answered and none of them has the mark: COMMAND may run.
    case notDone
    /// An instance has the mark (its value: who wrote it, when).
    case done(mark: [UInt8])
    /// Fewer than a quorum answered, and none of those has the mark: it cannot be known.
    case unknown([InstanceError])
}

extension Redlock {
    /// Reads `key`'s done mark for `id` from every instance. Ends as soon as one has it;
    /// otherwise waits for every answer (within `--op-timeout`), since the one instance that
    /// still has the mark after a restart may be the slowest.
    public func onceMark(key: [UInt8], id: [UInt8]) -> OnceCheck {
        let mark = OnceMark.key(for: key, id: id)
        var found: [UInt8]?
        let ballot = vote(ScriptCall(OnceMark.read, keys: [mark], arguments: []), decode: { reply in
            switch reply {
            case let .bulk(bytes):
                found = bytes
                return .granted(fence: nil)
            case .null: return .refused(holders: [], retryAfter: nil)
            default: return .failed(.unexpectedReply("\(reply)"))
            }
        }) { $0.granted > 0 }
        if ballot.granted > 0 { return .done(mark: found ?? []) }
        if quorum.isReached(by: ballot.refused) { return .notDone }
        return .unknown(failures(in: ballot))
    }

    /// Writes the done mark for `id` where `lease`'s token still holds the key, kept for
    /// `keep`. The tally says on how many instances it was written (a quorum is needed for
    /// every later run to see it).
    public func writeOnceMark(lease: Lease, id: [UInt8], value: [UInt8], keep: Duration) -> Tally {
        let quorum = self.quorum
        let mark = OnceMark.key(for: lease.key, id: id)
        let call = ScriptCall(OnceMark.write, keys: [lease.key, mark], arguments: [lease.lockToken.ownershipPrefix, value, Array(String(max(1, keep.milliseconds)).utf8)])
        // Every instance that answers gets it, as a release does: a mark on a bare quorum is
        // lost with one instance restarted empty, and the job runs again.
        let ballot = vote(call, patience: .complete, decode: kind.stepVerdict) { quorum.release($0) != .undecided }
        return Tally(ballot, failures: failures(in: ballot), decision: quorum.release(ballot))
    }
}
