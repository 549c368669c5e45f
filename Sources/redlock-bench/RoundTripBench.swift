import Glibc
import RedlockCore

/// Measure 3: the lock's cost inside one process, with RedlockCore called directly, against
/// the cheapest thing the same program can do with N instances: PING them all at once.
///
/// An acquire is one round of EVALSHA on every instance and a release another, so a
/// well-built client should cost about two parallel round trips plus script time; the
/// ratio to one PING round shows any overhead of its own (extra rounds, serial requests,
/// reconnects). Lock cycles and PING rounds alternate so both see the same noise, on the
/// same connections, after a warm-up that connects and loads the scripts.
///
/// Then the slow-instance case: one of three instances behind a 200 ms delay. Redlock waits
/// for every instance until --op-timeout (250 ms), so an acquire should cost about the
/// slow instance's round trip, never more than the timeout.
enum RoundTripBench {
    static let warmUp = 20
    static let samples = 1500
    static let ratioTarget = 4.0
    static let operationTimeout = Duration.milliseconds(250)
    static let connectTimeout = Duration.milliseconds(500)
    static let slowDelay = Duration.milliseconds(200)
    static let slowSamples = 8

    /// One N's samples.
    struct Figures {
        var cycles: [Duration] = []
        var pings: [Duration] = []
        var failures: [String] = []
    }

    static func run(_ context: Context, report: inout Report) {
        let counts = Context.instanceCounts
        Progress.say("in-process: \(samples) acquire+release cycles and PING rounds for each N=\(counts)")
        let figures = measure(context, counts: counts)
        for (n, f) in zip(counts, figures) {
            let title = "in-process acquire+release, median"
            guard f.cycles.count >= samples / 2, f.pings.count >= samples / 2 else {
                report.rows.append(.notMeasured(title, n: n))
                report.notes.append("in-process N=\(n): too many failures; first: \(f.failures.first ?? "?")")
                continue
            }
            let cycle = Statistics.median(f.cycles)
            let ping = Statistics.median(f.pings)
            let ratio = Statistics.ratio(cycle, ping)
            report.rows.append(Row(
                measure: title, n: n, redlock: Format.milliseconds(cycle),
                baseline: "PING all " + Format.milliseconds(ping), ratio: Format.ratio(ratio),
                target: "<= " + Format.ratio(ratioTarget), verdict: .check(ratio <= ratioTarget)))
            if let first = f.failures.first {
                report.notes.append("in-process N=\(n): \(f.failures.count) failed cycles or PING rounds (left out); first: \(first)")
            }
        }
        Progress.say("in-process: acquire with one of 3 instances behind a 200 ms delay proxy")
        let slowTitle = "acquire, 1 of 3 instances +200 ms, median"
        switch Result(catching: { () throws(BenchError) in try measureSlow(context) }) {
        case let .success(acquire):
            report.rows.append(Row(
                measure: slowTitle, n: 3, redlock: Format.milliseconds(acquire),
                baseline: "op-timeout " + Format.milliseconds(operationTimeout),
                ratio: Format.ratio(Statistics.ratio(acquire, operationTimeout)),
                target: "<= " + Format.milliseconds(operationTimeout), verdict: .check(acquire <= operationTimeout)))
        case let .failure(error):
            report.rows.append(.notMeasured(slowTitle, n: 3))
            report.notes.append("slow instance: \(error)")
        }
    }

    /// Samples for every N, interleaved (one PING round and one cycle for each N in turn),
    /// so that background noise falls on all of them alike.
    private static func measure(_ context: Context, counts: [Int]) -> [Figures] {
        let sets = counts.map { InstanceSet(endpoints: context.endpoints($0), connectTimeout: connectTimeout, operationTimeout: operationTimeout) }
        defer { sets.forEach { $0.closeAll() } }
        let redlocks = sets.map { Redlock(instances: $0) }
        // One lock name per N, taken and released again and again, as a cron job's or a
        // deploy's is. (A new name every cycle would also create a fencing counter every
        // cycle on every instance: a cost real use pays once per name, and on these
        // servers nearly as much again as the acquire script itself.)
        let keys = counts.map { "bench-inprocess-\($0)-\(getpid())" }
        var figures = Array(repeating: Figures(), count: counts.count)
        for index in 0..<(warmUp + samples) {
            for position in counts.indices {
                let ping = timedPing(sets[position])
                let cycle = timedCycle(redlocks[position], key: keys[position])
                guard index >= warmUp else { continue }
                switch ping {
                case let .success(elapsed): figures[position].pings.append(elapsed)
                case let .failure(error): figures[position].failures.append(error.description)
                }
                switch cycle {
                case let .success(elapsed): figures[position].cycles.append(elapsed)
                case let .failure(error): figures[position].failures.append(error.description)
                }
            }
        }
        return figures
    }

    /// One PING to every instance in parallel: the floor for any round over N instances.
    private static func timedPing(_ instances: InstanceSet) -> Result<Duration, BenchError> {
        let started = Instant.now()
        let replies = instances.broadcast(Command("PING"))
        let elapsed = Instant.now() - started
        for reply in replies {
            guard case .success(.status("PONG")) = reply else { return .failure(BenchError("PING: \(reply)")) }
        }
        return .success(elapsed)
    }

    /// tryAcquire then release on a key nobody holds; the value is made before the clock starts.
    private static func timedCycle(_ redlock: Redlock, key: String) -> Result<Duration, BenchError> {
        let value = benchValue()
        let started = Instant.now()
        let attempt = redlock.tryAcquire(key: Array(key.utf8), value: value, ttl: .seconds(10))
        guard case let .acquired(lease, _) = attempt else {
            return .failure(BenchError("acquire of a free key failed: \(attempt)"))
        }
        let tally = redlock.release(lease)
        let elapsed = Instant.now() - started
        guard tally.confirmed == redlock.instances.count else {
            return .failure(BenchError("release confirmed on \(tally.confirmed) of \(redlock.instances.count)"))
        }
        return .success(elapsed)
    }

    /// N=3 with the third instance behind a DelayProxy; the median of `slowSamples` acquires
    /// (each released, untimed, before the next).
    private static func measureSlow(_ context: Context) throws(BenchError) -> Duration {
        let proxy = try DelayProxy(targetPort: context.servers[2].port, delay: slowDelay)
        defer { proxy.stop() }
        let endpoints = context.endpoints(2) + [try! Endpoint.parse(proxy.url)]
        let instances = InstanceSet(endpoints: endpoints, connectTimeout: connectTimeout, operationTimeout: operationTimeout)
        defer { instances.closeAll() }
        let redlock = Redlock(instances: instances)
        var acquires: [Duration] = []
        for index in 0...slowSamples {
            let started = Instant.now()
            let attempt = redlock.tryAcquire(key: Array("bench-slow-\(getpid())-\(index)".utf8), value: benchValue(), ttl: .seconds(10))
            let elapsed = Instant.now() - started
            guard case let .acquired(lease, _) = attempt else {
                throw BenchError("acquire with a slow instance failed: \(attempt)")
            }
            _ = redlock.release(lease)
            // The first one also connects through the proxy: a warm-up.
            if index > 0 { acquires.append(elapsed) }
        }
        return Statistics.median(acquires)
    }

    private static func benchValue() -> LockValue {
        LockValue.fresh(for: .init(
            host: "redlock-bench", pid: getpid(), user: "bench", command: "redlock-bench",
            acquiredAtMilliseconds: WallClock.millisecondsSinceEpoch()))
    }
}
