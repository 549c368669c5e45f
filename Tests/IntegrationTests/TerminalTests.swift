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

    /// Ctrl-Z stops the whole job and the interactive shell gets its prompt back; the lease
    /// is renewed meanwhile (the stop lasts longer than the TTL); `fg` resumes it.
    @Test func controlZStopsTheJobAndFgResumesIt() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let keys: [(delay: Double, text: String)] = [
            (0.5, "\"$R\" run --ttl 1s k -- sh -c \"sleep 2; echo slept-\\$((1+1))\"\\n"),
            (1.0, "\\032"),
            (0.5, "echo prompt-$((1+1))\\n"),
            (0.3, "sleep 2; \"$R\" run -n k -- true; echo held-$?\\n"),
            (3.0, "fg\\n"),
            (3.0, "echo done-$?\\n"),
            (0.5, "exit\\n"),
        ]
        let result = try onTerminal("bash --norc --noprofile -i", keys: keys, environment: redis.environment)
        #expect(result.stdout.contains("prompt-2"), "the prompt did not come back: \(result)")
        #expect(result.stdout.contains("held-75"), "the lease lapsed while stopped: \(result)")
        #expect(result.stdout.contains("slept-2") && result.stdout.contains("done-0"), "\(result)")
    }

    /// Ctrl-Z with a hung instance: redlock closes its connections when it takes the lease
    /// back from the keeper, and must remember that the hung instance owed a reply. Had it
    /// forgotten, the next renewal would wait for that instance until --op-timeout ("timed
    /// out" in -v) instead of going on without it at once.
    @Test func controlZWithAHungInstanceDoesNotWaitForIt() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        redis.servers[2].pause()
        defer { redis.servers[2].resume() }
        let keys: [(delay: Double, text: String)] = [
            (0.5, "\"$R\" -v run --ttl 3s --op-timeout 1s k -- sh -c \"sleep 3; echo slept-\\$((1+1))\"\\n"),
            (1.0, "\\032"),
            (2.5, "fg\\n"),
            (3.0, "echo done-$?\\n"),
            (0.5, "exit\\n"),
        ]
        let result = try onTerminal("bash --norc --noprofile -i", keys: keys, environment: redis.environment)
        #expect(result.stdout.contains("slept-2") && result.stdout.contains("done-0"), "\(result)")
        let hung = "127.0.0.1:\(redis.servers[2].port)"
        #expect(result.stdout.contains("\(hung) not waited for (no reply yet to an earlier request)"), "\(result)")
        #expect(!result.stdout.contains("timed out"), "a round waited for the hung instance: \(result)")
    }

    /// A background `redlock run` whose COMMAND reads the terminal stops (SIGTTIN), and `fg`
    /// gives COMMAND the terminal.
    @Test func backgroundRunThenFgReadsTheTerminal() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let keys: [(delay: Double, text: String)] = [
            (0.5, "\"$R\" run k -- rev &\\n"),
            (1.5, "fg\\n"),
            (1.0, "hello\\n"),
            (0.5, "\\004"),
            (1.0, "exit\\n"),
        ]
        let result = try onTerminal("bash --norc --noprofile -i", keys: keys, environment: redis.environment)
        #expect(result.stdout.contains("olleh"), "\(result)")
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
