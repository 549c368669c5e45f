/// KEY's queue as `inspect` shows it: every waiter still there on some instance, in ticket
/// order (the order they will be served in), with how many instances have it.
public struct WaitingLine: Sendable {
    public struct Entry: Sendable {
        public let ticket: QueueTicket
        /// On how many instances the entry stands.
        public let instances: Int
    }

    public let entries: [Entry]
    /// Instances whose queue could not be read (unreachable, or a reply that was not a
    /// list): the line shown may lack their waiters, so it is not "nobody waiting".
    public let unread: [InstanceError]
}

extension Redlock {
    /// Reads KEY's queue on every instance (read-only): the union, in order.
    public func waitingLine(key: [UInt8]) -> WaitingLine {
        var seen: [[UInt8]: Int] = [:]
        let results = instances.evaluate(QueueScripts.list, keys: [QueueKeys.queueKey(for: key)], arguments: [QueueKeys.waiterChannelPrefix(for: key)],
                                         decided: quorum.answered, patience: .complete)
        var unread: [InstanceError] = []
        for (index, result) in results.enumerated() {
            switch result {
            case let .success(reply)?:
                guard let items = reply.elements else {
                    unread.append(InstanceError(endpoint: instances.endpoints[index], error: reply.errorMessage.map { RedisError(errorReply: $0) } ?? .unexpectedReply("\(reply)")))
                    continue
                }
                for case let .bulk(bytes) in items { seen[bytes, default: 0] += 1 }
            case let .failure(error)?: unread.append(InstanceError(endpoint: instances.endpoints[index], error: error))
            case nil: unread.append(InstanceError(endpoint: instances.endpoints[index], error: .connectionClosed))
            }
        }
        let entries = seen.keys.sorted { $0.lexicographicallyPrecedes($1) }.compactMap { bytes in
            QueueTicket.decode(bytes).map { WaitingLine.Entry(ticket: $0, instances: seen[bytes] ?? 0) }
        }
        return WaitingLine(entries: entries, unread: unread)
    }
}
