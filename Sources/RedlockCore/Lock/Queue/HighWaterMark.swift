/// `--if-newer N`: KEY's high-water mark, the largest N whose COMMAND completed under the
/// lock. Both the read and the write touch a quorum, and the write happens only while our
/// token still holds KEY: any two quorums share an instance, so the next holder reads the
/// last completed write (the largest, as the mark only rises). An older deploy that got the
/// lock after a newer one finished sees a mark at least its own N, and skips.
extension Redlock {
    public enum MarkReading: Sendable, Equatable {
        /// The mark (nil: never set) as the quorum's largest.
        case mark(Int64?)
        /// Fewer than a quorum answered with a mark: it is unknown. `notANumber`: instances
        /// that answered with something that is not one (a mark written by hand, or a key
        /// of another type), so the message does not say they did not answer.
        case unknown(notANumber: Int)
    }

    /// Reads KEY's mark on every instance; the largest of a quorum's answers.
    public func highWaterMark(key: [UInt8]) -> MarkReading {
        var answered = 0
        var notANumber = 0
        var mark: Int64?
        for result in instances.broadcast(Command("GET", [QueueKeys.markKey(for: key)])) {
            switch result {
            case .success(.null): answered += 1
            case let .success(reply):
                guard let text = reply.text, let value = Int64(text) else { notANumber += 1; continue }
                answered += 1
                mark = max(mark ?? value, value)
            case .failure(.wrongType): notANumber += 1
            case .failure: continue
            }
        }
        return quorum.isReached(by: answered) ? .mark(mark) : .unknown(notANumber: notANumber)
    }

    /// Raises KEY's mark to `value` where `token` still holds KEY. True when a quorum did.
    public func raiseHighWaterMark(key: [UInt8], token: LockToken, to value: Int64) -> Bool {
        let results = instances.evaluate(QueueScripts.raiseMark, keys: [key, QueueKeys.markKey(for: key)],
                                         arguments: [token.ownershipPrefix, Array(String(value).utf8)])
        let done = results.filter { if case .success(.integer(1))? = $0 { return true } else { return false } }.count
        return quorum.isReached(by: done)
    }
}
