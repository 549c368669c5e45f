/// How a contender waits for a held lock: asleep on the release announcements of every
/// instance, with a timer as the fallback.
///
/// A release (and `force-release`) PUBLISHes on the key's channel, so a waiter retries the
/// moment the holder lets go, instead of polling. Listening on a quorum is enough to hear
/// every release: the holder's quorum and ours share an instance. A lock that expires
/// without a release (its holder crashed, or it is another client's) sends no message: the
/// timer then wakes the waiter when the holder's reported TTL runs out. A key deleted
/// without an announcement (`redis-cli DEL`, another client's unlock) is noticed within
/// `unannouncedCheck` at the latest. So a waiter costs each instance one attempt, one
/// SUBSCRIBE and one PTTL (none on another client's lock: `mayHaveFreed`), and then
/// nothing until the lock frees or its TTL runs out.
final class Waiter {
    private let key: [UInt8]
    private let kind: any LockKind
    private let instances: InstanceSet
    private let quorum: Quorum
    /// A second set of connections (a subscribed connection takes no other commands), made
    /// only when the lock turns out to be held: an uncontended acquire never pays for it.
    private var subscriptions: InstanceSet?
    private var listening = 0
    /// When subscribing may be tried again while deaf: at once at first and when
    /// subscriptions are lost, else once a second (an instance may come back; an ACL that
    /// refuses the channel will not change, and is not asked at every poll).
    private var subscribeAgainAt = Instant.distantPast

    /// The longest a waiter sleeps on a held lock without looking (jittered).
    static let unannouncedCheck: ClosedRange<Int64> = 10_000...12_000

    enum Wake {
        case announced
        case timerExpired
        /// Too many subscriptions were lost to hear every release.
        case deafened
        case interrupted
    }

    init(instances: InstanceSet, quorum: Quorum, key: [UInt8], kind: any LockKind) {
        self.key = key
        self.kind = kind
        self.instances = instances
        self.quorum = quorum
    }

    /// Whether releases are heard: subscribed on a quorum (the holder's quorum and ours
    /// share an instance).
    var hearsReleases: Bool { quorum.isReached(by: listening) }

    /// Subscribes, once the lock turns out to be held, wherever that is needed to listen on
    /// a quorum (everywhere the first time, then where subscriptions were lost). Returns
    /// whether it subscribed anything: a release just before then went unheard.
    func listenIfNeeded(after attempt: AcquireAttempt) -> Bool {
        guard case .busy = attempt, !hearsReleases, Instant.now() >= subscribeAgainAt else { return false }
        let subscriptions = self.subscriptions ?? InstanceSet(endpoints: instances.endpoints, connectTimeout: instances.connectTimeout, operationTimeout: instances.operationTimeout, tls: instances.tls, hostLookups: instances.hostLookups, identifiesServers: false)
        self.subscriptions = subscriptions
        subscribeAgainAt = Instant.now() + .seconds(1)
        let before = listening
        listening = subscriptions.subscribe(to: kind.releaseChannel(for: key), on: subscriptions.deafInstances)
        return listening > before
    }

    /// Whether the lock may have been released while the subscriptions were being made:
    /// asks each instance the kind's one plain read (cheaper for Redis than another attempt).
    /// False only when it is still held where an attempt could not get past.
    ///
    /// Not asked when every holder `attempt` met is another client's (a value redlock did
    /// not write): such a holder never announces its release, so there was no announcement
    /// to miss. Its expiry is on the timer and its DEL is noticed within `unannouncedCheck`,
    /// as at any other moment (only a `force-release` of it in those few milliseconds would
    /// be, as a DEL is). A command less per waiter and instance for Redis.
    func mayHaveFreed(after attempt: AcquireAttempt) -> Bool {
        if let holders = attempt.contention?.holders, !holders.isEmpty, holders.allSatisfy({ LockValue.decode($0.value) == nil }) {
            return false
        }
        let stillHeld = instances.broadcast(kind.stillHeldProbe(key: key)).filter { reply in
            if case let .success(reply) = reply { return kind.isStillHeld(reply) }
            return false
        }.count
        return quorum.mayHaveFreed(stillHeld: stillHeld)
    }

    /// How long after `attempt` the lock stays held as far as this waiter can know: to its
    /// earliest expiry (a release would be announced), at most `unannouncedCheck`. Nil when
    /// it could free unheard (not listening on a quorum) or is not held (a split vote).
    func knownHeld(after attempt: AcquireAttempt) -> Duration? {
        guard case let .busy(contention) = attempt, contention.granted == 0, hearsReleases else { return nil }
        let horizon = Duration.milliseconds(Self.unannouncedCheck.lowerBound)
        return min(horizon, contention.retryAfter ?? horizon)
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
            guard hearsReleases else {
                // Deaf (SUBSCRIBE refused or the instances unreachable): poll, gently.
                return .milliseconds(SecureRandom.uniform(in: 40...160))
            }
            let check = Duration.milliseconds(SecureRandom.uniform(in: Self.unannouncedCheck))
            guard let expiry = contention.retryAfter else { return check }
            // A little past the expiry, spread so that waiters do not all arrive at once.
            return min(check, expiry + .milliseconds(SecureRandom.uniform(in: 1...10)))
        case .unreachable:
            return .milliseconds(SecureRandom.uniform(in: 150...400))
        }
    }

    /// Sleeps until an announcement, the timer, the loss of too many subscriptions, or an
    /// interruption.
    func wait(_ delay: Duration, pause: (Duration, [FileDescriptor]) -> Bool) -> Wake {
        let until = Instant.now() + delay
        let heard = hearsReleases
        while true {
            // Not subscribed (the instances were unreachable): only the timer wakes us.
            let descriptors = subscriptions?.listeningDescriptors ?? []
            listening = descriptors.count
            if heard && !hearsReleases {
                subscribeAgainAt = .distantPast
                return .deafened
            }
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
}
