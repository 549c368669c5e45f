import RedlockCore

/// Issue 15's start-up rows: `run -s KEY -- true` and `run -l 3 KEY -- true` against
/// `run KEY -- true`, on N=3, each within 10%. Runs alternate (plain, shared, limit, plain,
/// ...) so that the three see the same background load; the medians and their ratios to
/// the plain run are reported. A limit pays one more round (the probe over its slots).
enum ModeStartupBench {
    static let warmUpRounds = 5
    static let rounds = 100
    static let n = 3
    static let ratioTarget = 1.10

    static func run(_ context: Context, report: inout Report) {
        Progress.say("modes: \(warmUpRounds) + \(rounds) rounds of run / run -s / run -l 3 on N=\(n)")
        let modes: [(name: String, flags: [String])] = [("run", []), ("run -s", ["-s"]), ("run -l 3", ["-l", "3"])]
        let commands = modes.enumerated().map { index, mode in
            [context.redlock, "run"] + mode.flags + context.redisOptions(n) + ["bench-mode-\(index)", "--", "true"]
        }
        let errors = context.workspace.file("modes-stderr")
        var walls = Array(repeating: [Duration](), count: modes.count)
        var failures: [String] = []
        do throws(BenchError) {
            for round in 0..<(warmUpRounds + rounds) {
                for (index, command) in commands.enumerated() {
                    let result = try Subprocess.run(command, standardError: errors)
                    if result.status != 0 {
                        failures.append("\(modes[index].name) exited \(result.status): \(readFile(errors).trimmingWhitespace)")
                        continue
                    }
                    if round >= warmUpRounds { walls[index].append(result.wall) }
                }
            }
        } catch {
            for mode in modes.dropFirst() { report.rows.append(.notMeasured("start-up wall, \(mode.name)", n: n)) }
            report.notes.append("modes: \(error)")
            return
        }
        if let first = failures.first { report.notes.append("modes: \(failures.count) failed runs (left out); first: \(first)") }
        guard walls.allSatisfy({ $0.count >= rounds / 2 }) else {
            for mode in modes.dropFirst() { report.rows.append(.notMeasured("start-up wall, \(mode.name)", n: n)) }
            report.notes.append("modes: too few successful runs")
            return
        }
        let plain = Statistics.median(walls[0])
        for index in modes.indices.dropFirst() {
            let median = Statistics.median(walls[index])
            let ratio = Statistics.ratio(median, plain)
            report.rows.append(Row(
                measure: "start-up wall, \(modes[index].name) KEY, median of \(walls[index].count)", n: n,
                redlock: Format.milliseconds(median), baseline: "run " + Format.milliseconds(plain),
                ratio: Format.ratio(ratio), target: "<= " + Format.ratio(ratioTarget), verdict: .check(ratio <= ratioTarget)))
        }
    }
}
