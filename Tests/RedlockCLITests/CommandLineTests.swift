import Testing
import TestSupport
@testable import redlock
@testable import RedlockCore

@Suite struct DurationSyntaxTests {
    @Test(arguments: [
        ("250ms", 250), ("30s", 30_000), ("5m", 300_000), ("2h", 7_200_000), ("1h30m", 5_400_000),
        ("1.5", 1500), ("0", 0), ("10", 10_000), ("1m30s", 90_000), ("1.5s", 1500), ("2m500ms", 120_500),
    ] as [(String, Int64)])
    func parses(_ text: String, _ milliseconds: Int64) {
        #expect(DurationSyntax.parse(text)?.milliseconds == milliseconds)
    }

    @Test(arguments: ["", "-1", "-5s", "5x", "s", "1h1h", "30m1h", "abc", "1e3", "0x10", "nan", "inf", "5 s", "1..2s", "99999999999h"])
    func rejects(_ text: String) {
        #expect(DurationSyntax.parse(text) == nil)
    }

    @Test func formats() {
        #expect(DurationSyntax.format(.seconds(90)) == "1m30s")
        #expect(DurationSyntax.format(.milliseconds(250)) == "250ms")
        #expect(DurationSyntax.format(.milliseconds(1500)) == "1.5s")
        #expect(DurationSyntax.formatRough(.seconds(133)) == "2m13s")
    }
}

@Suite struct ParserTests {
    @Test func runWithDoubleDash() throws {
        let invocation = try Parser.parse(["-r", "redis://a", "run", "--ttl", "5s", "deploy", "--", "./deploy.sh", "--ttl", "x"])
        #expect(invocation.command == .run)
        #expect(invocation.positionals == ["deploy"])
        #expect(invocation.commandLine == ["./deploy.sh", "--ttl", "x"])
        #expect(invocation.last("ttl") == "5s")
        #expect(invocation.all("redis") == ["redis://a"])
    }

    @Test func runWithoutDoubleDashStartsCommandAtFirstWordAfterKey() throws {
        let invocation = try Parser.parse(["run", "nightly", "-t", "1m", "./report.sh", "-x", "--verbose"])
        #expect(invocation.positionals == ["nightly"])
        #expect(invocation.commandLine == ["./report.sh", "-x", "--verbose"])
        #expect(invocation.last("ttl") == "1m")
        #expect(!invocation.has("verbose"))
    }

    @Test func optionsAfterTheSubcommandAndClusteredShorts() throws {
        let invocation = try Parser.parse(["run", "-qnE0", "-t5s", "--wait=3s", "k", "true"])
        #expect(invocation.has("quiet") && invocation.has("no-wait"))
        #expect(invocation.last("conflict-exit-code") == "0")
        #expect(invocation.last("ttl") == "5s")
        #expect(invocation.last("wait") == "3s")
    }

    @Test func repeatableRedis() throws {
        let invocation = try Parser.parse(["run", "-r", "redis://a", "--redis=redis://b", "k", "--", "true"])
        #expect(invocation.all("redis") == ["redis://a", "redis://b"])
    }

    @Test func unknownOptionSuggestsTheNearOne() {
        do {
            _ = try Parser.parse(["run", "--tll", "5s", "k", "true"])
            Issue.record("expected a usage error")
        } catch {
            #expect(error.status == 64)
            #expect(error.message?.contains("did you mean '--ttl'?") == true)
            #expect(error.message?.contains("redlock run --help") == true)
        }
    }

    @Test(arguments: [["frobnicate"], ["run", "--ttl"], ["run", "-Z", "k"], ["--no-wait=1", "run"], ["run", "--help=x"]])
    func usageErrors(_ arguments: [String]) {
        #expect(throws: Failure.self) { try Parser.parse(arguments) }
    }

    /// Random argument vectors: a usage error or an invocation, never a crash (seeded).
    @Test func randomArgumentVectorsNeverCrash() {
        var generator = SplitMix64(seed: 0xA26_0F_2026)
        let words = ["run", "acquire", "--", "-", "-t", "--ttl", "--ttl=", "-E", "300", "-qv", "k", "--wait", "1h1h",
                     "-n", "--redis", "redis://x", "--kill-after", "-1", "", "💥", "--token", "\u{0}", "--lost-signal", "TERM"]
        for _ in 0..<5000 {
            let count = Int(generator.next() % 8)
            let arguments = (0..<count).map { _ in words[Int(generator.next() % UInt64(words.count))] }
            do {
                _ = try Main.prepare(arguments, environment: { _ in nil })
            } catch {
                #expect(error.status == 64 || error.status == 78, "\(arguments) -> \(error.status)")
                #expect(error.message?.isEmpty == false)
                #expect(error.message?.contains("\n") == false)
            }
        }
    }
}

@Suite struct OptionTableTests {
    @Test func namesAreUnique() {
        let longs = OptionTable.all.map(\.long)
        #expect(Set(longs).count == longs.count)
        let shorts = OptionTable.all.compactMap(\.short)
        #expect(Set(shorts).count == shorts.count)
    }

    @Test func everyOptionHasHelpAndEveryArgumentAName() {
        for spec in OptionTable.all {
            #expect(!spec.help.isEmpty, "--\(spec.long)")
            #expect((spec.argument == nil) == (spec.value == .none), "--\(spec.long)")
        }
    }

    @Test func helpFitsEightyColumnsAndListsEveryOption() {
        for command in [nil] + Subcommand.allCases.map(Optional.some) {
            let text = Help.text(for: command)
            for line in text.split(separator: "\n") {
                #expect(line.count <= 80, "\(line)")
            }
            let (own, global) = OptionTable.options(for: command)
            for spec in own + global {
                #expect(text.contains("--\(spec.long)"), "--\(spec.long) missing from help for \(command?.rawValue ?? "redlock")")
            }
        }
    }
}
