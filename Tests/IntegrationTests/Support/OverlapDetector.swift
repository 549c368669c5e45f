import Foundation

/// Critical sections that report their own overlaps, for the chaos tests: contenders run
/// `redlock run … -- sh -c '<section>'` in loops while faults come and go, and any two
/// sections the lock failed to keep apart leave a line in "$D/overlaps".
///
/// A section takes `flock -n` on a local file: if it starts while another section still
/// holds that file, its flock fails and it records an overlap. (A killed section frees its
/// flock as it dies, so a teardown is not mistaken for an overlap.)
enum OverlapDetector {
    /// What the sections left once every contender finished.
    struct Record {
        /// How many sections ran.
        let sections: Int
        /// Every redlock exit status, in no particular order.
        let codes: [Int]
        /// The overlaps recorded; nil when there were none.
        let overlaps: String?
    }

    /// One watched section as shell text, for single quotes after `sh -c`: it takes
    /// `flock -n` (with `flag`, `-s` for shared or `-x` for exclusive) on "$D/<file>", counts
    /// itself in "$D/sections" and holds for 50 ms. `file` may name a shell variable
    /// (`slot-$REDLOCK_SLOT`): sections on different files never collide.
    static func section(flock flag: String? = nil, file: String = "detector") -> String {
        "flock -n \(flag.map { $0 + " " } ?? "")\"$D/\(file)\" sh -c \"echo x >> $D/sections; sleep 0.05\" || echo overlap >> \"$D/overlaps\""
    }

    /// Runs each of `commands` (shell lines, with "$R" the redlock binary and "$D" the
    /// scratch folder) in its own loop for `seconds`, noting each exit status in
    /// "$D/codes", while `faults` runs here until the end it is given; then waits for the
    /// last loops and reads what the sections left.
    static func watch(_ commands: [String], for seconds: TimeInterval, redis: RedisFixture, scratch: TestScratch,
                      faults: (_ end: Date) throws -> Void) throws -> Record {
        let binary = try RedlockBinary.executableURL().path
        let end = Date().addingTimeInterval(seconds)
        let contenders = try commands.map { command in
            let loop = "while [ $(date +%s) -lt \(Int(end.timeIntervalSince1970)) ]; do \(command); echo $? >> \"$D/codes\"; done"
            return try RedlockProcess(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", loop],
                                      environment: redis.environment.merging(["D": scratch.path, "R": binary]) { $1 })
        }
        try faults(end)
        for contender in contenders { _ = try contender.wait(timeout: 60) }
        return Record(sections: scratch.read("sections")?.split(separator: "\n").count ?? 0,
                      codes: scratch.read("codes")?.split(separator: "\n").compactMap { Int($0) } ?? [],
                      overlaps: scratch.read("overlaps"))
    }

    /// `watch` under the chaos tests' faults (`flapFirstAndRestartThirdEmpty`), with how
    /// many of each there were.
    static func watchUnderChaos(_ commands: [String], for seconds: TimeInterval, redis: RedisFixture, scratch: TestScratch) throws -> (record: Record, flaps: Int, restarts: Int) {
        var faults = (flaps: 0, restarts: 0)
        let record = try watch(commands, for: seconds, redis: redis, scratch: scratch) { end in
            faults = try redis.flapFirstAndRestartThirdEmpty(until: end)
        }
        return (record, faults.flaps, faults.restarts)
    }
}

extension RedisFixture {
    /// The chaos tests' faults until `end`: the first instance paused and resumed every
    /// 250 ms (renewals and acquires time out on it), the third restarted empty every 3 s
    /// (its keys gone). Returns how many of each.
    func flapFirstAndRestartThirdEmpty(until end: Date) throws -> (flaps: Int, restarts: Int) {
        var flaps = 0
        var restarts = 0
        var lastRestart = Date()
        while Date() < end {
            servers[0].pause()
            sleep(milliseconds: 250)
            servers[0].resume()
            sleep(milliseconds: 250)
            flaps += 1
            if Date().timeIntervalSince(lastRestart) > 3 {
                try servers[2].restartEmpty()
                restarts += 1
                lastRestart = Date()
            }
        }
        return (flaps, restarts)
    }
}
