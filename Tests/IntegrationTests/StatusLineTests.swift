import Foundation
import Testing

/// The waiting line on a terminal is live: redrawn every second, never wider than the
/// terminal (a wrapped line leaves fragments that "\r" cannot reach), erased at the end.
/// `script(1)` gives redlock a real pseudo-terminal; `stty cols` sets its width.
@Suite struct StatusLineTests {
    private func onTerminal(columns: Int, _ shell: String, environment: [String: String]) throws -> RunResult {
        let command = "script -qec \"stty cols \(columns) rows 24; $SHELL_COMMAND\" /dev/null < /dev/null"
        let process = try RedlockProcess(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", command],
                                         environment: environment.merging(["SHELL_COMMAND": shell, "R": try RedlockBinary.executableURL().path]) { $1 })
        return try process.wait(timeout: 60)
    }

    /// A holder as redlock writes it, with a long host name, for `seconds` more.
    private func holdWithLongHolder(_ redis: RedisFixture, milliseconds: Int) throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let host = String(repeating: "build-agent-", count: 8) + "eu-west-1"
        try redis.servers[0].client().command("SET", "k", "redlock1 tok host=\(host) pid=4242 user=deploy at=\(now) cmd=./deploy.sh", "PX", "\(milliseconds)")
    }

    /// The pieces of what was drawn: each "\r\e[K" starts a new state of the line.
    private func drawings(_ output: String) -> [String] {
        output.components(separatedBy: "\r\u{1B}[K").dropFirst().map { $0.components(separatedBy: "\n")[0] }
    }

    @Test func theLineIsRedrawnEverySecondWhileTheHolderKeepsIt() throws {
        let redis = try RedisFixture(count: 1)
        try holdWithLongHolder(redis, milliseconds: 4500)
        let result = try onTerminal(columns: 200, "\"$R\" run -w 20s k -- echo done", environment: redis.environment)
        #expect(result.stdout.contains("done"), "\(result)")
        let lines = drawings(result.stdout).filter { $0.contains("waiting for 'k'") }
        // 4.5s of waiting: a drawing at least every second, whatever the retry schedule.
        #expect(lines.count >= 4, "\(lines)")
    }

    @Test func theLineIsCutToANarrowTerminalAndErased() throws {
        let redis = try RedisFixture(count: 1)
        try holdWithLongHolder(redis, milliseconds: 1500)
        let result = try onTerminal(columns: 50, "\"$R\" run -w 20s k -- echo done", environment: redis.environment)
        #expect(result.stdout.contains("done"), "\(result)")
        let lines = drawings(result.stdout)
        #expect(lines.contains { $0.contains("waiting for 'k'") }, "\(result)")
        for line in lines {
            #expect(line.count < 50, "\(line.count) columns: \(line.debugDescription)")
        }
        // Erased: after the last erase, no waiting line is left (only the note that says
        // how long it waited, then COMMAND's output).
        let beforeDone = result.stdout.components(separatedBy: "done")[0]
        let afterLastErase = beforeDone.components(separatedBy: "\r\u{1B}[K").last ?? ""
        #expect(!afterLastErase.contains("waiting for"), "\(beforeDone.debugDescription)")
        #expect(beforeDone.contains("\r\u{1B}[K"))
    }
}
