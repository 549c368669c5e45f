import Glibc
import RedlockCore

/// Measure: what one hung instance out of three costs a `redlock run KEY -- true`, as a
/// ratio to the same run with all three healthy.
///
/// The third server is SIGSTOPped: the kernel still accepts its connections, but nothing
/// answers, the way a server stuck in a long command or a frozen VM behaves. A round that
/// ends as soon as a quorum answered costs nothing measurable here (the target is
/// <= 1.1); a round that waits out its timeouts costs the connect and op timeouts of the
/// acquire and the release rounds, about 1.5 s. Pairs alternate (healthy, hung) so both see
/// the same load; up to 41 of them (a few milliseconds each when rounds end when decided),
/// but no new pair after 15 s, which bounds the measure when they do not. Every
/// run takes a key of its own: the server, woken after its run, still executes the acquire
/// it had queued, and that key must not be one a later run wants.
enum HungInstanceBench {
    static let warmUpRounds = 1
    static let pairs = 41
    /// No pair starts after this long: slow (waiting) runs still give a few pairs.
    static let timeBound = Duration.seconds(15)
    static let ratioTarget = 1.1
    static let n = 3

    static func run(_ context: Context, report: inout Report) {
        Progress.say("hung instance: \(warmUpRounds) + \(pairs) pairs of healthy / hung redlock runs on N=\(n)")
        let measure = "run -- true, 1 of \(n) SIGSTOPped, median of pairs"
        let hung = context.servers[n - 1].pid
        var healthy: [Duration] = []
        var stopped: [Duration] = []
        var failures: [String] = []
        let errors = context.workspace.file("hung-stderr")
        let started = Instant.now()
        do throws(BenchError) {
            for round in 0..<(warmUpRounds + pairs) where Instant.now() - started < timeBound {
                let healthyRun = try Subprocess.run(command(context, key: "bench-healthy-\(round)"), standardError: errors)
                if healthyRun.status != 0 { failures.append("healthy run exited \(healthyRun.status): \(readFile(errors).trimmingWhitespace)") }
                kill(hung, SIGSTOP)
                let hungRun: ProcessOutcome
                do {
                    defer { kill(hung, SIGCONT) }
                    hungRun = try Subprocess.run(command(context, key: "bench-hung-\(round)"), standardError: errors)
                }
                if hungRun.status != 0 { failures.append("hung run exited \(hungRun.status): \(readFile(errors).trimmingWhitespace)") }
                guard round >= warmUpRounds, healthyRun.status == 0, hungRun.status == 0 else { continue }
                healthy.append(healthyRun.wall)
                stopped.append(hungRun.wall)
            }
        } catch {
            report.rows.append(.notMeasured(measure, n: n))
            report.notes.append("hung instance: \(error)")
            return
        }
        if let first = failures.first {
            report.notes.append("hung instance: \(failures.count) failed runs (left out); first: \(first)")
        }
        guard stopped.count >= 3 else {
            report.rows.append(.notMeasured(measure, n: n))
            report.notes.append("hung instance: too few successful pairs (\(stopped.count) of \(pairs))")
            return
        }
        let ratio = Statistics.ratio(Statistics.median(stopped), Statistics.median(healthy))
        report.rows.append(Row(
            measure: measure + " (\(stopped.count))", n: n, redlock: Format.milliseconds(Statistics.median(stopped)),
            baseline: "healthy " + Format.milliseconds(Statistics.median(healthy)), ratio: Format.ratio(ratio),
            target: "<= " + Format.ratio(ratioTarget), verdict: .check(ratio <= ratioTarget)))
    }

    private static func command(_ context: Context, key: String) -> [String] {
        [context.redlock, "run"] + context.redisOptions(n) + [key, "--", "true"]
    }
}
