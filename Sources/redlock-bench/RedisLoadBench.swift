import Glibc
import RedlockCore

/// Measure 4: what racing waiters cost the servers (the queue's cost is QueueBench's row).
/// Eight `redlock run --queue none --wait 5s KEY -- true` wait for a key that another
/// client holds (the bench SETs it with PX 60000, so no waiter can get it), and INFO commandstats on each instance says how many commands they
/// sent per second.
///
/// A waiter that polls costs every instance a steady stream of scripts however long it
/// waits, multiplied by the number of waiters; one that is woken (pub/sub) costs almost
/// nothing until the lock frees. The bench's own INFO calls are measured (two INFO in a
/// row before the waiters start) and subtracted.
enum RedisLoadBench {
    static let waiters = 8
    static let wait = "5s"
    static let target = 10.0
    /// The commands waiters send themselves; everything else in commandstats during the
    /// window (GET, PTTL, ...) ran inside their scripts.
    static let sentByClients: Set<String> = ["evalsha", "eval", "script|load", "subscribe", "unsubscribe", "auth", "select", "ping"]

    struct Figures {
        /// Commands per second on each instance, from the waiters alone.
        var rates: [Double]
        /// The same, counting only what clients send (scripts' own calls left out).
        var clientRates: [Double]
        var window: Duration
        var statuses: [Int32]
        /// What one INFO snapshot adds to the counts on each instance (subtracted).
        var own: [Int64]
        /// The busiest instance's calls in the window, per command, most first.
        var busiest: [(command: String, calls: Int64)]
    }

    static func run(_ context: Context, report: inout Report) {
        for n in Context.instanceCounts {
            Progress.say("Redis load: \(waiters) redlock waiters for \(wait) on a held key, N=\(n)")
            let title = "Redis load, \(waiters) waiters x \(wait), cmds/s/instance (max)"
            switch Result(catching: { () throws(BenchError) in try measure(context, n: n) }) {
            case let .success(f):
                let peak = f.rates.max() ?? 0
                report.rows.append(Row(
                    measure: title, n: n, redlock: Format.fixed(peak, 1), baseline: "flock: no server",
                    ratio: "-", target: "< " + Format.fixed(target, 0), verdict: .check(peak < target)))
                let clientPeak = f.clientRates.max() ?? 0
                report.rows.append(Row(
                    measure: "  the same, sent by clients (no script internals)", n: n, redlock: Format.fixed(clientPeak, 1),
                    baseline: "flock: no server", ratio: "-", target: "< " + Format.fixed(target, 0), verdict: .check(clientPeak < target)))
                let perInstance = f.rates.map { Format.fixed($0, 1) }.joined(separator: ", ")
                let breakdown = f.busiest.map { "\($0.command) \($0.calls)" }.joined(separator: ", ")
                var note = "Redis load N=\(n): per instance \(perInstance) cmds/s over \(Format.seconds(f.window)) (the bench's own INFO, \(f.own.max() ?? 0) call per snapshot, subtracted); busiest instance's calls: \(breakdown)"
                let unexpected = f.statuses.filter { $0 != 75 }
                note += unexpected.isEmpty
                    ? "; all \(waiters) waiters gave up with status 75 as expected"
                    : "; waiters' statuses \(f.statuses) (75 expected: not acquired in time)"
                report.notes.append(note)
            case let .failure(error):
                report.rows.append(.notMeasured(title, n: n))
                report.notes.append("Redis load N=\(n): \(error)")
            }
        }
        report.notes.append("Redis load: INFO commandstats counts the commands a Lua script runs as well as the EVAL/EVALSHA that ran it, so a script attempt counts once per command it runs; the key is another client's, which announces no release: on a key redlock holds, each waiter also looks once after subscribing (a PTTL per waiter and instance, 1.6/s more)")
    }

    private static func measure(_ context: Context, n: Int) throws(BenchError) -> Figures {
        // The bench's own connections: generous timeouts, since eight starting processes
        // share two cores with the servers.
        let control = InstanceSet(endpoints: context.endpoints(n), connectTimeout: .seconds(2), operationTimeout: .seconds(2))
        defer { control.closeAll() }
        let key = "bench-load-\(n)-\(getpid())"
        for reply in control.broadcast(Command("SET", key, "x", "PX", "60000")) {
            guard case .success(.status("OK")) = reply else { throw BenchError("SET \(key): \(reply)") }
        }
        let first = try callsByCommand(control)
        let before = try callsByCommand(control)
        let own = before.indices.map { total(before[$0]) - total(first[$0]) }
        let started = Instant.now()
        var pids: [pid_t] = []
        for index in 0..<waiters {
            pids.append(try Subprocess.spawn(
                [context.redlock, "run", "--queue", "none", "--wait", wait] + context.redisOptions(n) + [key, "--", "true"],
                standardError: context.workspace.file("load-\(n)-\(index).stderr")))
        }
        let statuses = pids.map { Subprocess.reap($0) }
        let after = try callsByCommand(control)
        let window = Instant.now() - started
        let seconds = Double(window.nanoseconds) / 1e9
        let calls = after.indices.map { total(after[$0]) - total(before[$0]) - own[$0] }
        let rates = calls.map { Double($0) / seconds }
        let clientRates = after.indices.map { index in
            Double(sentByClients.reduce(Int64(0)) { $0 + (after[index][$1] ?? 0) - (before[index][$1] ?? 0) }) / seconds
        }
        let busiest = calls.indices.max { calls[$0] < calls[$1] } ?? 0
        var breakdown: [(command: String, calls: Int64)] = []
        for (command, count) in after[busiest] {
            var delta = count - (before[busiest][command] ?? 0)
            if command == "info" { delta -= own[busiest] }
            if delta > 0 { breakdown.append((command, delta)) }
        }
        breakdown.sort { $0.calls > $1.calls || ($0.calls == $1.calls && $0.command < $1.command) }
        return Figures(rates: rates, clientRates: clientRates, window: window, statuses: statuses, own: own, busiest: breakdown)
    }

    static func total(_ calls: [String: Int64]) -> Int64 { calls.values.reduce(0, +) }

    /// `calls=` of every cmdstat line, by command, per instance.
    static func callsByCommand(_ instances: InstanceSet) throws(BenchError) -> [[String: Int64]] {
        var result: [[String: Int64]] = []
        for reply in instances.broadcast(Command("INFO", "commandstats")) {
            guard case let .success(value) = reply, let text = value.text else {
                throw BenchError("INFO commandstats: \(reply)")
            }
            var calls: [String: Int64] = [:]
            for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("cmdstat_") {
                guard let colon = line.firstIndex(of: ":"), let range = line.firstRange(of: "calls=") else { continue }
                let command = String(line[line.index(line.startIndex, offsetBy: 8)..<colon])
                calls[command] = Int64(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
            }
            result.append(calls)
        }
        return result
    }
}
