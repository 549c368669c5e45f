import Foundation
import Testing

/// Bad input of any kind: one `redlock: ` line on stderr and the exit code of SPEC.
@Suite struct UsageTests {
    @Test(arguments: [
        (["run", "--tll", "5s", "k", "--", "true"], 64),
        (["run", "--ttl", "5x", "k", "--", "true"], 64),
        (["run", "k"], 64),
        (["run", "-E", "300", "k", "--", "true"], 64),
        (["run", "--kill-after", "40s", "k", "--", "true"], 64),
        (["run", "--lost-signal", "NOPE", "k", "--", "true"], 64),
        (["run", "-n", "-w", "1s", "k", "--", "true"], 64),
        (["run", "--", "true"], 64),
        (["frobnicate"], 64),
        ([], 64),
        (["-r", "redis://a", "-r", "redis://a", "run", "k", "--", "true"], 78),
        (["-r", "redis:/:hunter2@host", "run", "k", "--", "true"], 78),
        (["-r", "redis//:hunter2@host", "run", "k", "--", "true"], 78),
        (["-r", "redis:hunter2@host", "run", "k", "--", "true"], 78),
        (["-r", "hunter2@host", "run", "k", "--", "true"], 78),
        (["-r", "redis://admin:hunter2@host:6379/x", "run", "k", "--", "true"], 78),
        (["-r", "http://nope", "run", "k", "--", "true"], 78),
        (["-r", "redis://:hunter2@host:99999", "run", "k", "--", "true"], 78),
        (["release", "k"], 64),
        (["force-release"], 64),
        (["doctor", "extra"], 64),
        (["inspect", "--yes"], 64),
        (["extend", "--token", "has space", "k"], 64),
    ] as [([String], Int32)])
    func badInput(_ arguments: [String], _ status: Int32) throws {
        let result = try redlock(arguments)
        #expect(result.status == status, "\(arguments): \(result)")
        let lines = result.stderr.split(separator: "\n")
        if !arguments.isEmpty {
            #expect(lines.count == 1, "\(arguments): \(result.stderr)")
            #expect(lines.first?.hasPrefix("redlock: ") == true)
        }
        #expect(result.stdout.isEmpty)
        #expect(!result.stderr.contains("hunter2"))
        if status == 64 && !arguments.isEmpty { #expect(result.stderr.contains("--help")) }
    }

    /// One TTL minimum for every command (Config.minimumTTL): `extend --ttl 5ms` and
    /// `--ttl 0` are refused with run's own message, before any Redis is asked.
    @Test(arguments: ["5ms", "0"])
    func extendRefusesATTLUnderTheMinimumLikeRun(_ ttl: String) throws {
        let run = try redlock(["run", "--ttl", ttl, "k", "--", "true"])
        let extend = try redlock(["extend", "--token", "t", "--ttl", ttl, "k"])
        #expect(run.status == 64 && extend.status == 64, "\(run)\n\(extend)")
        let reason = { (stderr: String) in stderr.split(separator: "\n").first.map { $0.split(separator: ";").first ?? "" } ?? "" }
        #expect(reason(extend.stderr).contains("--ttl must be at least 1s"), "\(extend)")
        #expect(reason(extend.stderr) == reason(run.stderr), "\(run)\n\(extend)")
        #expect(extend.stdout.isEmpty && extend.stderr.split(separator: "\n").count == 1)
    }

    @Test func badURLInEnvironmentIsAConfigurationError() throws {
        let result = try redlock(["run", "k", "--", "true"], environment: ["REDLOCK_URLS": "redis://ok:1, bogus"])
        #expect(result.status == 78)
    }

    /// A comma separates two URLs in REDLOCK_URLS only before the next URL's scheme: one
    /// inside a password, or a Sentinel URL's host list, stays in its URL.
    @Test func aCommaInsideAURLOfREDLOCK_URLSStaysInIt() throws {
        for list in ["redis://:hunter2,secret@127.0.0.1:1", "redis://admin:hunter2,secret@127.0.0.1:1 redis://127.0.0.1:2"] {
            let result = try redlock(["run", "-n", "k", "--", "true"], environment: ["REDLOCK_URLS": list], timeout: 20)
            #expect(result.status == 69, "one whole URL, whose server is not there: \(result)")
            #expect(!result.stderr.contains("hunter2") && !result.stderr.contains("secret"), "\(result)")
        }
        let sentinel = try redlock(["doctor"], environment: ["REDLOCK_URLS": "redis+sentinel://127.0.0.1:1,127.0.0.1:2/locks,redis://127.0.0.1:3"], timeout: 20)
        #expect(sentinel.status != 78, "the Sentinel URL was cut at its host list: \(sentinel)")
        #expect(!sentinel.stderr.contains("missing master name"), "\(sentinel)")
    }

    /// A password with white space is cut in two by REDLOCK_URLS' separators: neither half
    /// may be quoted.
    @Test(arguments: [
        "redis://:hunter2 secret@127.0.0.1:1",
        "redis://admin:hunter2 secret@127.0.0.1:1,redis://127.0.0.1:2",
        "redis://127.0.0.1:2 redis://:hunter2\tsecret@127.0.0.1:1",
        "redis://:hunter2,redis://secret@127.0.0.1:1",
    ])
    func aPasswordCutByTheSeparatorsOfREDLOCK_URLSIsNotPrinted(_ list: String) throws {
        let result = try redlock(["run", "-n", "k", "--", "true"], environment: ["REDLOCK_URLS": list.replacingOccurrences(of: "\\t", with: "\t")], timeout: 20)
        #expect(result.status == 78, "\(result)")
        #expect(!result.stderr.contains("hunter2") && !result.stderr.contains("secret"), "\(result)")
        #expect(result.stderr.hasPrefix("redlock: ") && result.stderr.split(separator: "\n").count == 1, "\(result)")
    }

    @Test func helpAndVersionGoToStdout() throws {
        for arguments in [["--help"], ["help"], ["help", "run"], ["run", "--help"], ["acquire", "-h"]] {
            let result = try redlock(arguments)
            #expect(result.status == 0)
            #expect(result.stdout.hasPrefix("usage: redlock"))
            #expect(result.stderr.isEmpty)
        }
        let version = try redlock(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.hasPrefix("redlock "))
    }

    @Test func unreachableDefaultFailsFastInsteadOfHanging() throws {
        // Nothing listens on this port: connection refused, 69, quickly.
        let port = try freeLoopbackPort()
        let result = try redlock(["-r", "redis://127.0.0.1:\(port)", "run", "-w", "300ms", "k", "--", "true"], timeout: 20)
        #expect(result.status == 69)
        #expect(result.stderr.contains("127.0.0.1:\(port)"))
    }
}
