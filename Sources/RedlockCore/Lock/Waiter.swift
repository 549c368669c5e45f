/// How a contender waits for a held lock: asleep on the release announcements of every
/// instance, with a timer as the fallback.
///
/// A release (and `force-release`) PUBLISHes on the key's channel, so a waiter retries the
/// moment the holder lets go, instead of polling. A lock that expires without a release
/// (its holder crashed, or it is another client's) sends no message: the timer then wakes
/// the waiter when the holder's reported TTL runs out, and at least every 3 to 4 s in case
/// a message was lost or another client deleted its key without announcing it. While the
/// subscription is up, 8 waiters send each instance about 2 attempts a second in all,
/// instead of 80.
final class Waiter {
    private let key: [UInt8]
    private let instances: InstanceSet
    /// A second set of connections (a subscribed connection takes no other commands), made
    /// only when the lock turns out to be held: an uncontended acquire never pays for it.
    private var subscriptions: InstanceSet?
    private var listening = 0

    enum Wake {
        case announced
        case timerExpired
        case interrupted
    }

    init(instances: InstanceSet, key: [UInt8]) {
        self.key = key
        self.instances = instances
    }

    /// Subscribes the first time the lock turns out to be held; returns whether it just did.
    func subscribeIfNeeded(after attempt: AcquireAttempt) -> Bool {
        guard subscriptions == nil, case .busy = attempt else { return false }
        let subscriptions = InstanceSet(endpoints: instances.endpoints, connectTimeout: instances.connectTimeout, operationTimeout: instances.operationTimeout, tls: instances.tls)
        self.subscriptions = subscriptions
        listening = subscriptions.subscribe(to: LockKeys.releaseChannel(for: key))
        return true
    }

    /// The timer for the next attempt.
    func delay(after attempt: AcquireAttempt) -> Duration {
        switch attempt {
        case .acquired:
            return .zero
        case let .busy(contention):
            if contention.granted > 0 {
                // A split vote between contenders: back off by a random amount so the next
                // round is not split again (short: the lock is free, someone should take it).
                return .microseconds(SecureRandom.uniform(in: 1000...15000))
            }
            // Announcements reach us only while a quorum of subscriptions is up.
            let fallback: Duration = listening >= quorum
                ? .milliseconds(SecureRandom.uniform(in: 3000...4000))
                : .milliseconds(SecureRandom.uniform(in: 40...160))
            guard let expiry = contention.earliestExpiry else { return fallback }
            return min(fallback, expiry + .milliseconds(SecureRandom.uniform(in: 1...10)))
        case .unreachable:
            return .milliseconds(SecureRandom.uniform(in: 150...400))
        }
    }

    /// Sleeps until an announcement, the timer, or an interruption.
    func wait(_ delay: Duration, pause: (Duration, [FileDescriptor]) -> Bool) -> Wake {
        let until = Instant.now() + delay
        while true {
            // Not subscribed (the instances were unreachable): only the timer wakes us.
            let descriptors = subscriptions?.listeningDescriptors ?? []
            listening = descriptors.count
            // TLS may hold a decrypted message that poll would not report: do not sleep then.
            let wait = subscriptions?.hasBufferedMessages == true ? Duration.zero : until.remaining()
            guard pause(wait, descriptors) else { return .interrupted }
            if let subscriptions, subscriptions.takeMessages() > 0 {
                // Everyone waiting heard the same message: a random stagger of up to 1 ms
                // (a few round trips on a LAN) keeps them from splitting the vote.
                let stagger = Duration.microseconds(SecureRandom.uniform(in: 0...1000))
                return pause(stagger, []) ? .announced : .interrupted
            }
            if Instant.now() >= until { return .timerExpired }
        }
    }

    private var quorum: Int { instances.quorum }
}
