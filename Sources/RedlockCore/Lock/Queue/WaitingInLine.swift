/// Where a waiter stands in KEY's queue, as a quorum of instances sees it.
public struct QueuePlace: Sendable, Equatable {
    /// 1 for the first in line.
    public let position: Int
    /// How many are in line, us included.
    public let waiting: Int
    /// The waiter just ahead of us; nil when we are first.
    public let ahead: QueueTicket?
    /// The first waiter behind us that supersedes us (`--supersede` gives up for it): a
    /// larger order key, or any later one when we have none.
    public let behind: QueueTicket?
}

/// What waiting in line ended with.
public enum LineOutcome: Sendable {
    case outcome(AcquireOutcome)
    /// `--supersede`: a newer waiter joined the line, so this one gave up (and left).
    case superseded(by: QueueTicket?)
}

extension Redlock {
    /// How often a waiter renews its entry: a dead process leaves the line at once (its
    /// channel loses its listener); this only bounds a vanished host's entry.
    static let queueRefresh = Duration.seconds(30)
    /// How often the second in line looks whether the first is still there (the first may
    /// die before it takes the lock, and nobody announces that); the third looks twice as
    /// long apart, and so on up to `queueRefresh`.
    static let secondLooks = Duration.seconds(3)

    /// Waits for the lock in KEY's queue, served in ticket order: joins the line with the
    /// first refused attempt, listens on its own channel (a release wakes only the first in
    /// line), renews its entry, and tries only when first. Leaves the line at once when it
    /// gives up, is interrupted, or is superseded (`supersede`).
    ///
    /// A free key with nobody in line is taken in one round, as without a queue. Once the
    /// lock is taken, what is left of waiting (`finishLeavingLine`) waits for the caller.
    public func acquireInLine(
        key: [UInt8], value: LockValue, ttl: Duration, ticket: QueueTicket, policy: WaitPolicy, supersede: Bool,
        pause: (Duration, [FileDescriptor]) -> Bool,
        onAttempt: (AcquireAttempt) -> Void = { _ in }, onPlace: (QueuePlace) -> Void = { _ in }
    ) -> LineOutcome {
        var policy = policy
        let quorum = self.quorum
        // The writer side of KEY's reader/writer lock, in line: shared holders and modes still refuse.
        let inLine = Redlock(instances: instances, kind: InLine(ticket: ticket, base: kind as? Exclusive ?? Exclusive()), restartGrace: restartGrace)
        let channel = ticket.channel(for: key)
        var subscriptions: InstanceSet?
        defer { subscriptions?.closeAll() }
        var listening = 0
        var subscribeAgainAt = Instant.distantPast
        var lastRefresh = Instant.now()
        var place: QueuePlace?

        var attempt = inLine.tryAcquire(key: key, value: value, ttl: ttl)
        while true {
            guard let contention = attempt.contention else {
                // Granted: the instances that granted took us out of the line in the same
                // script. One that refused us (we were not first there) keeps our entry only
                // for the grace, once we stop listening; one that failed may keep it longer,
                // so only then is leaving worth a round. Both are left for after COMMAND has
                // started (`finishLeavingLine`): the next holder's wait includes all we do
                // between a release and COMMAND's start.
                var leaving: QueueTicket?
                if place != nil || subscriptions != nil, case let .acquired(_, failures) = attempt, !failures.isEmpty { leaving = ticket }
                if subscriptions != nil || leaving != nil { lineLeftovers = LineLeftovers(key: key, subscriptions: subscriptions, leaving: leaving) }
                subscriptions = nil
                return .outcome(.finished(attempt))
            }
            let decision: Quorum.Acquisition
            if case .unreachable = attempt { decision = .unreachable } else { decision = .busy }
            if policy.next(after: decision, ballot: contention.ballot, quorum: quorum, now: .now()) == .giveUp {
                leaveQueue(key: key, ticket: ticket)
                return .outcome(.finished(attempt))
            }

            // Listen on our own channel, on every instance that is not listening yet (a set
            // that votes on nothing: no INFO in its handshake, as the Waiter's).
            var justSubscribed = false
            if !quorum.isReached(by: listening), Instant.now() >= subscribeAgainAt {
                let set = subscriptions ?? InstanceSet(endpoints: instances.endpoints, connectTimeout: instances.connectTimeout, operationTimeout: instances.operationTimeout, tls: instances.tls, hostLookups: instances.hostLookups, identifiesServers: false)
                subscriptions = set
                subscribeAgainAt = Instant.now() + .seconds(1)
                let before = listening
                listening = set.subscribe(to: channel, on: set.deafInstances)
                justSubscribed = listening > before
            }
            if justSubscribed || place == nil {
                // A wake-up sent before we listened went unheard: look where we stand.
                place = lookUpPlace(key: key, ticket: ticket, refresh: false)
                if let place { onPlace(place) }
                if supersede, let place, place.behind != nil { leaveQueue(key: key, ticket: ticket); return .superseded(by: place.behind) }
                if place?.position == 1 {
                    attempt = inLine.tryAcquire(key: key, value: value, ttl: ttl)
                    continue
                }
            }
            onAttempt(attempt)

            // The timer: the first in line wakes for the lease's expiry (a release is
            // announced to it), the others look now and then whether those ahead are still
            // there, less often the further back: when several ahead die together (a CI
            // pipeline cancelled), the first live one behind them takes over within 3 s per
            // place instead of at its entry's refresh, and 30 waiters in line still cost an
            // instance about 1.6 looks a second. Deaf, everyone polls gently.
            let hears = quorum.isReached(by: listening)
            let position = place?.position ?? 1
            var delay: Duration
            if !hears {
                delay = .milliseconds(SecureRandom.uniform(in: 500...1000))
            } else if position == 1 {
                delay = min(.seconds(10), (contention.earliestExpiry ?? .seconds(10)) + .milliseconds(SecureRandom.uniform(in: 1...10)))
                // Refused by shared holders: come back before our "writer waits" mark lapses
                // (a shared release is announced to every waiter, not to the first in line).
                if let soon = contention.retryAfter, soon < contention.earliestExpiry ?? .seconds(10) { delay = min(delay, soon) }
            } else {
                delay = min(Self.secondLooks * (position - 1), Self.queueRefresh)
            }
            delay = min(delay, lastRefresh + Self.queueRefresh - Instant.now())
            if let latest = policy.latestRetry { delay = min(delay, latest - Instant.now()) }
            delay = max(delay, .zero)

            // Sleep until messages on our channel from a quorum, the timer, or a signal.
            // A release lands on the instances one after another, and each announces it as
            // it does: tried at the first announcement, an attempt is refused where the
            // holder still stands whenever the holder was slower to send the rest (5-20% of
            // make bench's hand-offs on 2 busy cores), then undone and made again with a
            // fence to raise: three round trips more on the next holder's clock. So after
            // the first one, the others get as long as the holder's release round gave them
            // (the operation timeout); an instance that never announces (it does not have us
            // first, or the holder died mid-release) costs that once.
            var until = Instant.now() + delay
            // Which instances have announced a release, by index.
            var announced = Array(repeating: false, count: instances.count)
            var announcements = 0
            var woken = false
            while true {
                let descriptors = subscriptions?.listeningDescriptors ?? []
                if listening > descriptors.count {
                    listening = descriptors.count
                    if !quorum.isReached(by: listening) { subscribeAgainAt = .distantPast; break }
                }
                let wait = subscriptions?.hasBufferedMessages == true ? Duration.zero : until.remaining()
                guard pause(wait, descriptors) else {
                    leaveQueue(key: key, ticket: ticket)
                    return .outcome(.interrupted(attempt))
                }
                if let subscriptions {
                    let heard = subscriptions.takeMessagesByInstance()
                    if announcements == 0 && !heard.isEmpty { until = min(until, Instant.now() + instances.operationTimeout) }
                    for index in heard where !announced[index] {
                        announced[index] = true
                        announcements += 1
                    }
                }
                if quorum.isReached(by: announcements) { woken = true; break }
                if Instant.now() >= until { woken = announcements > 0; break }
            }

            let refresh = Instant.now() >= lastRefresh + Self.queueRefresh - .milliseconds(50)
            if woken && !supersede {
                // Only the first in line is woken by a release: try at once.
                attempt = inLine.tryAcquire(key: key, value: value, ttl: ttl)
                lastRefresh = Instant.now()
                continue
            }
            if let latest = policy.latestRetry, Instant.now() >= latest {
                attempt = position == 1 ? inLine.tryAcquire(key: key, value: value, ttl: ttl) : attempt
                // The policy gives up on the next turn (after leaving the line).
                if attempt.contention != nil { leaveQueue(key: key, ticket: ticket); return .outcome(.finished(attempt)) }
                continue
            }
            let looked = lookUpPlace(key: key, ticket: ticket, refresh: refresh)
            if refresh { lastRefresh = Instant.now() }
            if let looked {
                place = looked
                onPlace(looked)
                if supersede, looked.behind != nil { leaveQueue(key: key, ticket: ticket); return .superseded(by: looked.behind) }
            }
            if place?.position == 1 || !hears {
                attempt = inLine.tryAcquire(key: key, value: value, ttl: ttl)
                lastRefresh = Instant.now()
            }
        }
    }

    /// Finishes leaving the line after `acquireInLine` took the lock: closes its
    /// subscriptions and, where the deciding round went on without an instance, leaves the
    /// line there (a round). Idempotent; a process that exits without it closes the
    /// subscriptions all the same, and an entry left behind lapses within the grace.
    public func finishLeavingLine() {
        guard let leftovers = lineLeftovers else { return }
        lineLeftovers = nil
        leftovers.subscriptions?.closeAll()
        if let ticket = leftovers.leaving { leaveQueue(key: leftovers.key, ticket: ticket) }
    }

    /// Our place as a quorum sees it: the replies sorted by position, the one a quorum is at
    /// or ahead of. Nil when fewer than a quorum answered. Also renews our entry (`refresh`),
    /// and rejoins where it was lost.
    func lookUpPlace(key: [UInt8], ticket: QueueTicket, refresh: Bool) -> QueuePlace? {
        let results = instances.evaluate(QueueScripts.position, keys: [QueueKeys.queueKey(for: key)],
                                          arguments: [ticket.encoded, refresh ? Array("1".utf8) : Array("0".utf8), QueueKeys.waiterChannelPrefix(for: key)],
                                          decided: quorum.answered, patience: .complete)
        var places: [QueuePlace] = []
        for result in results {
            guard case let .success(reply)? = result, let items = reply.elements, items.count == 5,
                  let position = items[0].integer, let waiting = items[1].integer else { continue }
            func ticketAt(_ index: Int) -> QueueTicket? {
                guard case let .bulk(bytes) = items[index], !bytes.isEmpty else { return nil }
                return QueueTicket.decode(bytes)
            }
            places.append(QueuePlace(position: Int(position), waiting: Int(waiting), ahead: ticketAt(3), behind: ticketAt(4)))
        }
        guard quorum.isReached(by: places.count) else { return nil }
        places.sort { $0.position < $1.position }
        var chosen = places[quorum.needed - 1]
        // Superseded only when a quorum has someone behind us.
        if places.filter({ $0.behind != nil }).count < quorum.needed, chosen.behind != nil {
            chosen = QueuePlace(position: chosen.position, waiting: chosen.waiting, ahead: chosen.ahead, behind: nil)
        } else if chosen.behind == nil, let behind = places.first(where: { $0.behind != nil })?.behind, places.filter({ $0.behind != nil }).count >= quorum.needed {
            chosen = QueuePlace(position: chosen.position, waiting: chosen.waiting, ahead: chosen.ahead, behind: behind)
        }
        return chosen
    }

    /// Leaves KEY's queue on every instance (idempotent); where the key is free, the new
    /// first in line is woken.
    public func leaveQueue(key: [UInt8], ticket: QueueTicket) {
        _ = instances.evaluate(QueueScripts.leave, keys: [key, QueueKeys.queueKey(for: key)],
                               arguments: [ticket.encoded, QueueKeys.waiterChannelPrefix(for: key)],
                               decided: quorum.answered, patience: .complete)
    }
}

/// What waiting in line leaves to do once the lock is taken (`finishLeavingLine`).
struct LineLeftovers {
    let key: [UInt8]
    /// Listening on our own channel, no longer needed.
    let subscriptions: InstanceSet?
    /// Our ticket, when the deciding round went on without an instance: leave the line there.
    let leaving: QueueTicket?
}
