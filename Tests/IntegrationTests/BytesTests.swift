import Foundation
import Testing

/// argv, the environment and KEY are bytes: what is not UTF-8 reaches COMMAND and Redis
/// unchanged (no U+FFFD), and is printed escaped. The test's shell makes the bytes with
/// printf, since a Swift String cannot hold them.
@Suite struct BytesTests {
    private func shell(_ script: String, environment: [String: String]) throws -> RunResult {
        try RedlockProcess(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", script],
                           environment: environment.merging(["R": try RedlockBinary.executableURL().path]) { $1 }).wait(timeout: 60)
    }

    @Test func anArgumentThatIsNotUTF8ReachesCommandUnchanged() throws {
        let redis = try RedisFixture(count: 1)
        let scratch = try TestScratch()
        // rm -- $'caf\xe9.txt', under redlock.
        let result = try shell("cd \"$D\" && : > \"$(printf 'caf\\351.txt')\" && \"$R\" run k -- rm -- \"$(printf 'caf\\351.txt')\" && ls -A | wc -l",
                               environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "the file is gone: \(result)")
    }

    /// Option values and the variables redlock reads as text must be text: a prefix of
    /// 0xff and one of 0xfe were both read as U+FFFD, and named one lock.
    @Test func aTextSettingThatIsNotUTF8IsRefused() throws {
        let redis = try RedisFixture(count: 1)
        let variable = try shell("env \"$(printf 'REDLOCK_PREFIX=\\377')\" \"$R\" acquire -n k", environment: redis.environment)
        #expect(variable.status == 78 && variable.stderr.contains("REDLOCK_PREFIX is not UTF-8 text"), "\(variable)")
        let option = try shell("\"$R\" --prefix \"$(printf '\\376')\" acquire -n k", environment: redis.environment)
        #expect(option.status == 64 && option.stderr.contains("'--prefix' is not UTF-8 text"), "\(option)")
        let keys = try redis.servers[0].client().command("DBSIZE").int
        #expect(keys == 0, "nothing was taken")
    }

    @Test func theEnvironmentAndKeyReachCommandUnchanged() throws {
        let redis = try RedisFixture(count: 1)
        let result = try shell("env \"$(printf 'SECRET_BYTES=a\\351b')\" \"$R\" run \"$(printf 'lk-\\377')\" -- sh -c 'printf %s \"$SECRET_BYTES\" | od -An -tx1; printf %s \"$REDLOCK_KEY\" | od -An -tx1'",
                               environment: redis.environment)
        #expect(result.status == 0, "\(result)")
        let lines = result.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines == ["61 e9 62", "6c 6b 2d ff"], "\(result)")
    }

    @Test func keysThatAreNotUTF8AreStoredAsGivenAndDoNotCollide() throws {
        let redis = try RedisFixture(count: 1)
        let held = try shell("\"$R\" acquire \"$(printf 'lk-\\377')\"", environment: redis.environment)
        #expect(held.status == 0, "\(held)")
        let stored = try redis.servers[0].client().command(arguments: [Array("EXISTS".utf8), Array("lk-".utf8) + [0xFF]])
        #expect(stored == .integer(1), "the key is lk-\\xff, byte for byte")
        // lk-\xfe is another key: free.
        let other = try shell("\"$R\" run -n \"$(printf 'lk-\\376')\" -- true", environment: redis.environment)
        #expect(other.status == 0, "\(other)")
        // lk-\xff is held, and the message shows its name escaped.
        let busy = try shell("\"$R\" run -n \"$(printf 'lk-\\377')\" -- true", environment: redis.environment)
        #expect(busy.status == 75, "\(busy)")
        #expect(busy.stderr.contains("'lk-\\xff'"), "\(busy)")
    }
}
