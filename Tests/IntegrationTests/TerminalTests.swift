import Foundation
import Testing

/// On a terminal, COMMAND's process group is the foreground group: it reads the terminal,
/// Ctrl-C reaches it once, and redlock takes the terminal back when it ends. `script(1)`
/// (util-linux, in every Debian) gives the test a real pseudo-terminal.
@Suite struct TerminalTests {
    /// Runs `shell` under `script` with its terminal fed `keys`, one chunk at each delay.
    private func onTerminal(_ shell: String, keys: [(delay: Double, text: String)], environment: [String: String]) throws -> RunResult {
        var feeder = ""
        for key in keys { feeder += "sleep \(key.delay); printf '\(key.text)'; " }
        feeder += "sleep 1"
        let command = "(\(feeder)) | script -qec \"$SHELL_COMMAND\" /dev/null"
        let process = try RedlockProcess(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", command],
                                         environment: environment.merging(["SHELL_COMMAND": shell, "R": try RedlockBinary.executableURL().path]) { $1 })
        return try process.wait(timeout: 30)
    }

    @Test func commandReadsTheTerminal() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let result = try onTerminal("\"$R\" run k -- sh -c 'read line; echo got:$line'", keys: [(0.8, "hello\\n")], environment: redis.environment)
        #expect(result.stdout.contains("got:hello"), "\(result)")
    }

    @Test func controlCInterruptsTheCommandOnce() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let scratch = try TestScratch()
        let result = try onTerminal("\"$R\" run k -- sh -c 'trap \"echo int >> $D/ints\" INT; i=0; while [ $i -lt 30 ]; do sleep 0.05; i=$((i+1)); done; echo finished'",
                                    keys: [(0.8, "\\003")], environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(result.stdout.contains("finished"), "\(result)")
        #expect(scratch.read("ints") == "int\n")
    }

    /// Ctrl-C reaches only COMMAND (it has the terminal); redlock then passes it on to its
    /// own group, so the shell running the loop stops, as it would with flock.
    @Test func controlCStopsTheCallingShellLoop() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let result = try onTerminal("for i in 1 2 3; do \"$R\" run k -- sh -c 'echo up$0; sleep 3' $i; done; echo loop-went-on",
                                    keys: [(0.8, "\\003")], environment: redis.environment)
        #expect(result.stdout.contains("up1"), "\(result)")
        #expect(!result.stdout.contains("up2") && !result.stdout.contains("loop-went-on"), "\(result)")
        #expect(redis.valuesOf(key: "k").allSatisfy { $0 == .null })
    }

    @Test func waitingShowsALiveStatusLineOnATerminal() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        try redis.servers[0].client().command("SET", "k", "x", "PX", "1500")
        let result = try onTerminal("\"$R\" run -w 10s k -- echo done", keys: [], environment: redis.environment)
        #expect(result.stdout.contains("waiting for 'k'"), "\(result)")
        #expect(result.stdout.contains("\r\u{1B}[K"), "updated in place and cleared")
        #expect(result.stdout.contains("done"))
    }

    @Test func redlockTakesTheTerminalBack() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let result = try onTerminal("\"$R\" run k -- true; read line; echo back:$line", keys: [(0.8, "again\\n")], environment: redis.environment)
        #expect(result.stdout.contains("back:again"), "\(result)")
    }
}
