import Testing
@testable import RedlockCore

/// The queue's order is the byte order of its tickets: the same on every instance, by order
/// key, then join time, then waiter id.
@Suite struct QueueTicketTests {
    private static let holder = HolderInfo(host: "ci 7", pid: 311, user: "deploy", command: "", acquiredAtMilliseconds: 0)

    private static func ticket(_ key: Int64?, _ joined: Int64, _ id: String = "abc", supersede: Bool = false) -> QueueTicket {
        QueueTicket(orderKey: key, joinedAtMilliseconds: joined, waiterID: id, supersedable: supersede, holder: holder)
    }

    @Test func byteOrderIsOrderKeyThenJoinTimeThenID() {
        let ordered = [
            Self.ticket(9, 5_000), Self.ticket(10, 1_000), Self.ticket(10, 2_000, "a"), Self.ticket(10, 2_000, "b"),
            Self.ticket(nil, 500), Self.ticket(nil, 1_764_000_000_000),
        ]
        for (earlier, later) in zip(ordered, ordered.dropFirst()) {
            #expect(earlier.encoded.lexicographicallyPrecedes(later.encoded), "\(String(decoding: earlier.encoded, as: UTF8.self)) before \(String(decoding: later.encoded, as: UTF8.self))")
        }
        #expect(Self.ticket(Int64.max, 0).encoded.lexicographicallyPrecedes(Self.ticket(nil, 0).encoded), "keyed waiters go first")
    }

    @Test func decodesWhatItEncodes() {
        let original = Self.ticket(42, 1_764_000_000_123, "Zx-_9", supersede: true)
        let decoded = QueueTicket.decode(original.encoded)
        #expect(decoded == original)
        #expect(decoded?.holder.host == "ci 7")
        #expect(QueueTicket.decode(Self.ticket(nil, 7).encoded)?.orderKey == nil)
        #expect(QueueTicket.decode(Array("garbage".utf8)) == nil)
        #expect(QueueTicket.decode(Array("1:2: x".utf8)) == nil)
    }

    @Test func queueKeysShareTheLocksHashSlotAndAreNotLocks() {
        #expect(QueueKeys.queueKey(for: Array("deploy".utf8)) == Array("{deploy}:queue".utf8))
        #expect(QueueKeys.markKey(for: Array("{jobs}.nightly".utf8)) == Array("{jobs}.nightly:mark".utf8))
        #expect(QueueKeys.isHelperKey(Array("{deploy}:queue".utf8)))
        #expect(QueueKeys.isHelperKey(Array("{deploy}:mark".utf8)))
        #expect(!QueueKeys.isHelperKey(Array("deploy:queue".utf8)))
        #expect(Exclusive().isHelperKey(Array("{deploy}:queue".utf8)))
    }
}
