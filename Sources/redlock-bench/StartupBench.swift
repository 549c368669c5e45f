import RedlockCore

/// Measure 1: what one `redlock run KEY -- true` costs as a whole process, against
/// `flock FILE true`, and redlock's peak RSS.
///
/// Runs are paired and alternate (flock, redlock, flock, redlock, ...) so that both tools
/// see the same background load: on a shared machine a burst from another tenant then
/// slows one pair, not one tool. The pairs for N = 1, 3 and 5 are interleaved too (a round
/// is one pair for each N), so a burst cannot land on one N's figures alone. Both medians,
/// their ratio, and the median of per-pair ratios are reported. The lock is never contended
/// here: this is the fixed cost a script pays for wrapping a command, with connecting,
/// acquiring, exec and releasing included.
enum StartupBench {
    static let warmUpRounds = 5
    static let pairs = 150
    /// The targets: a ratio of medians of at most 1.5 on one instance (the product's
    /// promise for a cron tick: `run KEY -- true` within 1.5x of `flock FILE true`) and of
    /// 2.0 on three (issue 5), and peak RSS for any N.
    static let ratioTargets: [Int: Double] = [1: 1.5, 3: 2.0]
    static let rssTargetKiB = 16 * 1024
    /// Peak-RSS runs per tool and N, through the probe (after the timed pairs, so the
    /// probe's extra process never weighs on the wall times).
    static let memoryRuns = 10

    /// One N's samples.
    private struct Samples {
        var redlock: [Duration] = []
        var flock: [Duration] = []
        var pairRatios: [Double] = []
        var redlockPeakKiB = 0
        var flockPeakKiB = 0
        var failures: [String] = []
    }

    static func run(_ context: Context, report: inout Report) {
        let counts = Context.instanceCounts
        Progress.say("start-up: \(warmUpRounds) + \(pairs) rounds of flock / redlock run pairs for N=\(counts)")
        var samples = Array(repeating: Samples(), count: counts.count)
        do throws(BenchError) {
            try measure(context, counts: counts, into: &samples)
        } catch {
            for n in counts { report.rows.append(.notMeasured("start-up wall", n: n)) }
            report.notes.append("start-up: \(error)")
            return
        }
        for (n, s) in zip(counts, samples) {
            if let first = s.failures.first {
                report.notes.append("start-up N=\(n): \(s.failures.count) failed runs (left out); first: \(first)")
            }
        }
        for (n, s) in zip(counts, samples) {
            guard s.redlock.count >= pairs / 2 else {
                report.rows.append(.notMeasured("start-up wall", n: n))
                report.notes.append("start-up N=\(n): too few successful pairs (\(s.redlock.count) of \(pairs))")
                continue
            }
            let redlock = Statistics.median(s.redlock)
            let flock = Statistics.median(s.flock)
            let ratio = Statistics.ratio(redlock, flock)
            report.rows.append(Row(
                measure: "start-up wall, median of \(s.redlock.count) pairs", n: n, redlock: Format.milliseconds(redlock),
                baseline: "flock " + Format.milliseconds(flock), ratio: Format.ratio(ratio),
                target: ratioTargets[n].map { "<= " + Format.ratio($0) } ?? "-",
                verdict: ratioTargets[n].map { .check(ratio <= $0) } ?? .informational))
        }
        for (n, s) in zip(counts, samples) where s.redlock.count >= pairs / 2 {
            report.rows.append(Row(
                measure: "start-up, median of per-pair ratios", n: n, redlock: "-", baseline: "-",
                ratio: Format.ratio(Statistics.median(s.pairRatios)), target: "-", verdict: .informational))
        }
        for (n, s) in zip(counts, samples) {
            let measure = "start-up peak RSS, max of \(memoryRuns) runs"
            guard s.redlockPeakKiB > 0 else {
                report.rows.append(.notMeasured(measure, n: n))
                continue
            }
            report.rows.append(Row(
                measure: measure, n: n,
                redlock: Format.mebibytes(kibibytes: s.redlockPeakKiB),
                baseline: "flock " + Format.mebibytes(kibibytes: s.flockPeakKiB),
                ratio: Format.ratio(Double(s.redlockPeakKiB) / Double(max(1, s.flockPeakKiB))),
                target: "<= 16.0 MiB", verdict: .check(s.redlockPeakKiB <= rssTargetKiB)))
        }
    }

    private static func measure(_ context: Context, counts: [Int], into samples: inout [Samples]) throws(BenchError) {
        let flockCommand = [context.flock, context.workspace.file("startup.lock"), "true"]
        let redlockCommands = counts.map { [context.redlock, "run"] + context.redisOptions($0) + ["bench-startup", "--", "true"] }
        // Both tools' standard error goes to a file (each its own), so that both spawns pay
        // the same open: a failure's message can then be reported.
        let errors = context.workspace.file("startup-stderr")
        let flockErrors = context.workspace.file("startup-flock-stderr")
        for round in 0..<(warmUpRounds + pairs) {
            for index in counts.indices {
                let flock = try Subprocess.run(flockCommand, standardError: flockErrors)
                let redlock = try Subprocess.run(redlockCommands[index], standardError: errors)
                if flock.status != 0 { samples[index].failures.append("flock exited \(flock.status): \(readFile(flockErrors).trimmingWhitespace)") }
                if redlock.status != 0 {
                    samples[index].failures.append("redlock exited \(redlock.status): \(readFile(errors).trimmingWhitespace)")
                }
                guard round >= warmUpRounds, flock.status == 0, redlock.status == 0 else { continue }
                samples[index].flock.append(flock.wall)
                samples[index].redlock.append(redlock.wall)
                samples[index].pairRatios.append(Statistics.ratio(redlock.wall, flock.wall))
            }
        }
        for _ in 0..<memoryRuns {
            for index in counts.indices {
                let flock = try PeakMemoryProbe.measure(flockCommand)
                let redlock = try PeakMemoryProbe.measure(redlockCommands[index])
                if flock.status != 0 || redlock.status != 0 {
                    samples[index].failures.append("peak-RSS run: flock exited \(flock.status), redlock \(redlock.status)")
                    continue
                }
                samples[index].flockPeakKiB = max(samples[index].flockPeakKiB, flock.kibibytes)
                samples[index].redlockPeakKiB = max(samples[index].redlockPeakKiB, redlock.kibibytes)
            }
        }
    }
}
