/// The `--once` done marks of one lock, for `inspect KEY`: found with SCAN on every
/// instance (a mark is a key of its own, `{KEY}:once:ID`), then read where they are.
public struct OnceMarkListing: Sendable {
    /// The ID the mark is for, as the key spells it.
    public let id: [UInt8]
    /// The mark's value (who wrote it, when), from the first instance that has it.
    public let value: [UInt8]
    /// How many instances have it.
    public let instances: Int
    /// The longest remaining TTL among them; nil when none has one.
    public let remaining: Duration?
}

extension Redlock {
    /// Every done mark of `key`, sorted by ID. At most `limit` are read (a daily ID kept a
    /// week is seven); SCAN never blocks an instance as KEYS would.
    public func onceMarks(key: [UInt8], limit: Int = 100) -> [OnceMarkListing] {
        let prefix = OnceMark.key(for: key, id: [])
        let pattern = prefix.flatMap { "*?[]\\".utf8.contains($0) ? [UInt8(ascii: "\\"), $0] : [$0] } + Array("*".utf8)
        var cursors: [String?] = Array(repeating: "0", count: instances.count)
        var found: Set<[UInt8]> = []
        var rounds = 0
        repeat {
            rounds += 1
            let requests: [[Command]?] = cursors.map { cursor in
                cursor.map { [Command("SCAN", [Array($0.utf8), Array("MATCH".utf8), pattern, Array("COUNT".utf8), Array("1000".utf8)])] }
            }
            for (index, result) in instances.round(requests).enumerated() {
                guard let result, case let .success(.array(items)) = InstanceSet.single(result), items.count == 2 else {
                    cursors[index] = nil
                    continue
                }
                for case let .bulk(name) in items[1].elements ?? [] where name.starts(with: prefix) { found.insert(name) }
                let next = items[0].text ?? "0"
                cursors[index] = next == "0" ? nil : next
            }
        } while cursors.contains(where: { $0 != nil }) && rounds < 1000 && found.count < limit
        let names = found.sorted { $0.lexicographicallyPrecedes($1) }.prefix(limit)
        guard !names.isEmpty else { return [] }
        let requests: [[Command]?] = Array(repeating: names.flatMap { [Command("GET", [$0]), Command("PTTL", [$0])] }, count: instances.count)
        let results = instances.round(requests)
        return names.enumerated().compactMap { position, name in
            var value: [UInt8]?
            var count = 0
            var remaining: Duration?
            for result in results {
                guard case let .success(replies)? = result, replies.count == 2 * names.count,
                      case let .bulk(bytes) = replies[2 * position] else { continue }
                count += 1
                if value == nil { value = bytes }
                if let ms = replies[2 * position + 1].integer, ms >= 0 {
                    remaining = max(remaining ?? .zero, .milliseconds(ms))
                }
            }
            guard let value else { return nil }
            return OnceMarkListing(id: Array(name.dropFirst(prefix.count)), value: value, instances: count, remaining: remaining)
        }
    }
}
