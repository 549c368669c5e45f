import Glibc
import RedlockCore

/// Measure 6: waiting in line (SPEC "Waiting in line"), N=3.
///
/// Order: 30 `redlock run --wait` started 100 ms apart contend for one key whose holder
/// keeps it for 300 ms each time; they must be served in exactly the order they started,
/// and the last one's wait must be within 10% of the ideal, the critical sections before it
/// back to back (from the first one's entry).
///
/// Load: 30 waiters in line for 10 s behind a holder that never lets go (another client's
/// key): every command the instances run, heartbeats and script internals included, per
/// second and instance, from INFO commandstats.
enum QueueBench {
    static let waiters = 30
    static let spacing = Duration.milliseconds(100)
    static let section = Duration.milliseconds(300)
    static let loadWindow = Duration.seconds(10)
    static let n = 3

    /// The critical section: appends "<index> <wall clock ns>" to the log, then sleeps.
    static let script = """
        # redlock-bench's queue section: $1 is the log, $2 the waiter's index.
        echo "$2 $(date +%s%N)" >> "$1"
        sleep 0.3

        """

    static func run(_ context: Context, report: inout Report) {
        Progress.say("queue: \(waiters) waiters started \(Format.milliseconds(spacing)) apart, \(Format.milliseconds(section)) sections, N=\(n)")
        switch Result(catching: { () throws(BenchError) in try order(context) }) {
        case let .success((served, lastWait, idealWait)):
            let inOrder = served == Array(0..<waiters)
            report.rows.append(Row(measure: "Queue: \(waiters) waiters 100 ms apart, served in order", n: n,
                                   redlock: inOrder ? "in order" : "out of order", baseline: "-", ratio: "-", target: "in order", verdict: .check(inOrder)))
            let ratio = Statistics.ratio(lastWait, idealWait)
            report.rows.append(Row(measure: "  the last one's wait / ideal", n: n, redlock: "\(Format.ratio(ratio)) (\(Format.seconds(lastWait)))",
                                   baseline: "ideal \(Format.seconds(idealWait))", ratio: Format.ratio(ratio), target: "<= 1.10", verdict: .check(ratio <= 1.10)))
            if !inOrder { report.notes.append("Queue order: served \(served)") }
        case let .failure(error):
            report.rows.append(.notMeasured("Queue: \(waiters) waiters 100 ms apart, served in order", n: n))
            report.notes.append("Queue order: \(error)")
        }
        Progress.say("queue: \(waiters) waiters in line for \(Format.seconds(loadWindow)), N=\(n)")
        switch Result(catching: { () throws(BenchError) in try load(context) }) {
        case let .success((peak, breakdown)):
            report.rows.append(Row(measure: "Queue load, \(waiters) waiters in line, cmds/s/instance (max)", n: n,
                                   redlock: Format.fixed(peak, 1), baseline: "flock: no server", ratio: "-", target: "< 10", verdict: .check(peak < 10)))
            report.notes.append("Queue load N=\(n): busiest instance's calls over \(Format.seconds(loadWindow)): \(breakdown)")
        case let .failure(error):
            report.rows.append(.notMeasured("Queue load, \(waiters) waiters in line, cmds/s/instance (max)", n: n))
            report.notes.append("Queue load: \(error)")
        }
    }

    private static func order(_ context: Context) throws(BenchError) -> (served: [Int], lastWait: Duration, idealWait: Duration) {
        let scriptPath = context.workspace.file("queue-section.sh")
        let log = context.workspace.file("queue-order.log")
        guard writeFile(scriptPath, script), writeFile(log, "") else { throw BenchError("cannot write \(scriptPath)") }
        let key = "bench-queue-\(getpid())"
        var pids: [pid_t] = []
        var startedAt: [Int64] = []
        let begin = Instant.now()
        for index in 0..<waiters {
            let due = begin + spacing * index
            if due > Instant.now() { pause(due - Instant.now()) }
            startedAt.append(wallNanoseconds())
            pids.append(try Subprocess.spawn(
                [context.redlock, "run", "--wait", "60s"] + context.redisOptions(n) + [key, "--", "sh", scriptPath, log, String(index)],
                standardError: context.workspace.file("queue-\(index).stderr")))
        }
        let statuses = pids.map { Subprocess.reap($0) }
        guard statuses.allSatisfy({ $0 == 0 }) else { throw BenchError("waiters' statuses \(statuses)") }
        let entries = readFile(log).split(separator: "\n").compactMap { line -> (Int, Int64)? in
            let fields = line.split(separator: " ")
            guard fields.count == 2, let index = Int(fields[0]), let at = Int64(fields[1]) else { return nil }
            return (index, at)
        }
        guard entries.count == waiters, let first = entries.first, let last = entries.last else { throw BenchError("\(entries.count) sections logged, \(waiters) expected") }
        let lastIndex = last.0
        // Ideal: every section before the last one's back to back from the first entry.
        let idealEntry = first.1 + Int64(waiters - 1) * Int64(section.nanoseconds)
        let idealWait = Duration.nanoseconds(idealEntry - startedAt[lastIndex])
        let lastWait = Duration.nanoseconds(last.1 - startedAt[lastIndex])
        return (entries.map(\.0), lastWait, idealWait)
    }

    private static func load(_ context: Context) throws(BenchError) -> (peak: Double, breakdown: String) {
        let control = InstanceSet(endpoints: context.endpoints(n), connectTimeout: .seconds(2), operationTimeout: .seconds(2))
        defer { control.closeAll() }
        let key = "bench-queue-load-\(getpid())"
        for reply in control.broadcast(Command("SET", key, "x", "PX", "120000")) {
            guard case .success(.status("OK")) = reply else { throw BenchError("SET \(key): \(reply)") }
        }
        var pids: [pid_t] = []
        defer { for pid in pids { kill(pid, SIGTERM) }; for pid in pids { _ = Subprocess.reap(pid) } }
        for index in 0..<waiters {
            pids.append(try Subprocess.spawn(
                [context.redlock, "run", "--wait", "60s"] + context.redisOptions(n) + [key, "--", "true"],
                standardError: context.workspace.file("queue-load-\(index).stderr")))
            pause(spacing)
        }
        // Settled: every waiter joined and listens.
        pause(.seconds(1))
        let first = try RedisLoadBench.callsByCommand(control)
        let before = try RedisLoadBench.callsByCommand(control)
        let own = before.indices.map { RedisLoadBench.total(before[$0]) - RedisLoadBench.total(first[$0]) }
        let started = Instant.now()
        pause(loadWindow)
        let after = try RedisLoadBench.callsByCommand(control)
        let seconds = Double((Instant.now() - started).nanoseconds) / 1e9
        let calls = after.indices.map { RedisLoadBench.total(after[$0]) - RedisLoadBench.total(before[$0]) - own[$0] }
        let busiest = calls.indices.max { calls[$0] < calls[$1] } ?? 0
        var breakdown: [(String, Int64)] = []
        for (command, count) in after[busiest] {
            var delta = count - (before[busiest][command] ?? 0)
            if command == "info" { delta -= own[busiest] }
            if delta > 0 { breakdown.append((command, delta)) }
        }
        breakdown.sort { $0.1 > $1.1 }
        return (Double(calls.max() ?? 0) / seconds, breakdown.map { "\($0.0) \($0.1)" }.joined(separator: ", "))
    }

    private static func pause(_ duration: Duration) {
        var spec = timespec(tv_sec: Int(duration.nanoseconds / 1_000_000_000), tv_nsec: Int(duration.nanoseconds % 1_000_000_000))
        var left = timespec()
        while nanosleep(&spec, &left) != 0 && errno == EINTR { spec = left }
    }

    /// The wall clock in ns, as `date +%s%N` in the section reads it.
    private static func wallNanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
