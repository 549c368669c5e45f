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
        #expect(invocation.commandLine == ["./deploy.sh", "--ttl", "x"].map { Array($0.utf8) })
        #expect(invocation.last("ttl") == "5s")
        #expect(invocation.all("redis") == ["redis://a"])
    }

    @Test func runWithoutDoubleDashStartsCommandAtFirstWordAfterKey() throws {
        let invocation = try Parser.parse(["run", "nightly", "-t", "1m", "./report.sh", "-x", "--verbose"])
        #expect(invocation.positionals == ["nightly"])
        #expect(invocation.commandLine == ["./report.sh", "-x", "--verbose"].map { Array($0.utf8) })
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

    @Test func keyAndCommandStayBytes() throws {
        let key: [UInt8] = Array("lk-".utf8) + [0xFF]
        let file: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".txt".utf8)
        let invocation = try Parser.parse([Array("run".utf8), key, Array("--".utf8), Array("rm".utf8), Array("--".utf8), file])
        #expect(invocation.positionalBytes == [key])
        #expect(invocation.commandLine == [Array("rm".utf8), Array("--".utf8), file])
        let other = try Parser.parse([Array("run".utf8), Array("lk-".utf8) + [0xFE], Array("true".utf8)])
        #expect(other.positionalBytes != invocation.positionalBytes, "two keys, not one U+FFFD")
    }

    /// Option values are text: one that is not UTF-8 is refused, not read with U+FFFD in
    /// place of its bytes (`--slots $'\xff'` and `$'\xfe'` named one slot).
    @Test(arguments: [["--slots"], ["--slots="], ["--prefix"], ["--once"], ["--label"], ["-l"]])
    func anOptionValueThatIsNotUTF8IsRefused(_ option: [String]) {
        let value: [UInt8] = Array("a".utf8) + [0xFF]
        let words: [[UInt8]] = option[0].hasSuffix("=") ? [Array(option[0].utf8) + value] : [Array(option[0].utf8), value]
        do {
            _ = try Parser.parse([Array("run".utf8)] + words + [Array("k".utf8), Array("--".utf8), Array("true".utf8)])
            Issue.record("\(option) took a value that is not UTF-8")
        } catch {
            #expect(error.status == 64 && error.message?.contains("is not UTF-8 text") == true, "\(String(describing: error.message))")
        }
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
        // A letter may mean different options for different commands (-l: inspect's --long,
        // run's --limit), never two options of one command, and a global one is its own.
        for command in Subcommand.allCases {
            let shorts = OptionTable.all.filter { $0.applies(to: command) }.compactMap(\.short)
            #expect(Set(shorts).count == shorts.count, "\(command.rawValue)")
        }
        let globalShorts = Set(OptionTable.all.filter(\.isGlobal).compactMap(\.short))
        #expect(OptionTable.all.filter { !$0.isGlobal }.compactMap(\.short).allSatisfy { !globalShorts.contains($0) })
    }

    @Test func oneLetterResolvesByCommand() throws {
        #expect(try Parser.parse(["inspect", "-l", "k"]).has("long"))
        #expect(try Parser.parse(["inspect", "-lq", "k"]).has("quiet"))
        // A letter no option of the command has, but other commands' options have: the
        // error names what it means where (-l: inspect's --long, run's --limit).
        do {
            _ = try Parser.parse(["doctor", "-l"])
            Issue.record("doctor -l was accepted")
        } catch {
            #expect(error.status == 64)
            #expect(error.message?.contains("does not apply to 'doctor'") == true && error.message?.contains("--long") == true && error.message?.contains("--limit") == true, "\(String(describing: error.message))")
        }
        // Every letter shared by several commands' options resolves to the command's own.
        let letters = Dictionary(grouping: OptionTable.all.filter { $0.short != nil }, by: { $0.short! })
        for (letter, specs) in letters where specs.count > 1 {
            for spec in specs {
                for command in spec.commands ?? [] {
                    guard case let .option(found) = OptionTable.short(letter, for: command) else {
                        Issue.record("-\(letter) for \(command.rawValue)"); continue
                    }
                    #expect(found.long == spec.long)
                }
            }
            // Before the command is known it cannot be read, and says so.
            #expect(throws: Failure.self) { try Parser.parse(["-\(letter)", "1", "inspect"]) }
        }
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
            // A command's help lists its own options; the global ones are in `redlock --help`.
            let (own, global) = OptionTable.options(for: command == .help ? nil : command)
            for spec in (command == nil || command == .help) ? global : own {
                #expect(text.contains("--\(spec.long)"), "--\(spec.long) missing from help for \(command?.rawValue ?? "redlock")")
            }
        }
    }
}

/// The help says what each command does, once, and nothing that is true of another command.
@Suite struct HelpTests {
    @Test func onlyRunRenewsTheTTL() {
        for command in [Subcommand.acquire, .extend] {
            let text = Help.text(for: command)
            #expect(!text.contains("run renews it"), "\(command): \(text)")
            #expect(text.contains("nothing renews it"), "\(command): \(text)")
        }
        #expect(Help.text(for: .run).contains("run renews it about every TTL/3"))
    }

    @Test func runListsEveryVariableCommandGets() {
        let text = Help.text(for: .run).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for variable in ["REDLOCK_KEY", "REDLOCK_TOKEN", "REDLOCK_FENCING_TOKEN"] {
            #expect(text.contains(variable), "\(variable)")
        }
    }

    @Test func theCommandsColumnIsAligned() {
        let lines = Help.text(for: nil).split(separator: "\n", omittingEmptySubsequences: false)
        let start = lines.firstIndex(of: "Commands:")! + 1
        let rows = lines[start..<(start + Subcommand.allCases.count)]
        let columns = Set(zip(rows, Subcommand.allCases).map { row, command in
            row.distance(from: row.startIndex, to: row.firstRange(of: command.summary)!.lowerBound)
        })
        #expect(columns.count == 1, "\(rows)")
    }

    @Test func noDefaultInsideADefault() {
        let text = Help.text(for: nil)
        #expect(!text.contains("(default: 0 (off))"))
        #expect(text.contains("(default: off)"))
    }

    @Test func aCommandsHelpPointsToTheGlobalOptionsInOneLine() {
        for command in Subcommand.allCases where command != .help {
            let text = Help.text(for: command)
            #expect(text.contains("see 'redlock --help'"), "\(command)")
            // No global option is described again: none of their option lines, whatever the
            // number of the command's own options (the pointer line may name them).
            let described = text.split(separator: "\n").map { $0.drop { $0 == " " } }
            for option in OptionTable.options(for: nil).global where option.long != "help" {
                let starts = ["--\(option.long)"] + (option.short.map { ["-\($0), --\(option.long)"] } ?? [])
                #expect(!described.contains { line in starts.contains { line == $0 || line.hasPrefix($0 + " ") } },
                        "\(command) describes the global --\(option.long) again: \(text)")
            }
        }
    }

    @Test func bareRedlockPrintsAShortUsage() throws {
        let prepared = try Main.prepare([String](), environment: { _ in nil })
        guard case .help(nil, toStandardError: true) = prepared else {
            Issue.record("\(prepared)")
            return
        }
        #expect(Help.shortUsage.split(separator: "\n").count <= 12)
        #expect(Help.shortUsage.contains("redlock --help"))
    }
}

/// Usage errors name the real mistake, and the habits of flock(1) get a hint.
@Suite struct UsageMessageTests {
    private func message(_ arguments: [String]) -> String {
        do {
            _ = try Main.prepare(arguments, environment: { _ in nil })
            return "accepted"
        } catch {
            #expect(error.status == 64, "\(arguments)")
            return error.message ?? ""
        }
    }

    @Test(arguments: [
        ["run", "--ttl", "0", "k", "--", "true"],
        ["run", "--ttl", "5ms", "k", "--", "true"],
        ["run", "--ttl", "999ms", "k", "--", "true"],
        ["acquire", "--ttl", "500ms", "k"],
        ["extend", "--token", "t", "--ttl", "5ms", "k"],
        ["extend", "--token", "t", "--ttl", "0", "k"],
    ])
    func oneMinimumTTLForEveryCommand(_ arguments: [String]) {
        #expect(message(arguments).contains("--ttl must be at least 1s"), "\(arguments): \(message(arguments))")
    }

    @Test func theMinimumTTLLeavesRoomForARenewalRound() {
        #expect(message(["run", "--op-timeout", "1s", "--ttl", "2s", "k", "--", "true"]).contains("--ttl must be at least 3s"))
        #expect(message(["run", "--ttl", "1s", "k", "--", "true"]) == "accepted")
    }

    @Test func aBadDurationIsNamedBeforeAMissingKey() {
        #expect(message(["run", "--wait", "k", "--", "true"]).hasPrefix("bad duration 'k' for --wait"))
        #expect(message(["acquire", "-t", "k"]).hasPrefix("bad duration 'k' for --ttl"))
    }

    @Test func swappedLettersGetASuggestion() {
        #expect(message(["rnu", "k", "--", "true"]).contains("did you mean 'run'?"))
        #expect(message(["inpsect"]).contains("did you mean 'inspect'?"))
    }

    @Test func aKeyWithoutRunSuggestsRun() {
        #expect(message(["mykey", "true"]).contains("redlock run mykey -- true"))
        #expect(message(["mykey", "--", "./job.sh", "it's"]).contains("redlock run mykey -- ./job.sh 'it'\\''s'"))
    }

    @Test(arguments: [
        (["run", "-c", "echo hi", "k"], "sh -c"),
        (["run", "--timeout", "5", "k", "--", "true"], "-w/--wait"),
        (["run", "--nonblock", "k", "--", "true"], "-n/--no-wait"),
        (["run", "-e", "k", "--", "true"], "-x/--exclusive"),
    ] as [([String], String)])
    func flocksHabitsGetAHint(_ arguments: [String], _ hint: String) {
        #expect(message(arguments).contains(hint), "\(arguments): \(message(arguments))")
    }

    /// -s and -x are lock modes now (flock's meaning), as are -l and --slots; one per lock.
    @Test(arguments: [
        (["run", "-s", "-x", "k", "--", "true"], "--exclusive and --shared exclude each other"),
        (["acquire", "-l", "2", "--slots", "a", "k"], "--limit and --slots exclude each other"),
        (["run", "-l", "0", "k", "--", "true"], "--limit takes a number from 1 to 1000"),
        (["run", "--slots", "a,,b", "k", "--", "true"], "names separated by commas"),
        (["run", "--slots", "a,a", "k", "--", "true"], "names a slot twice"),
        (["extend", "-s", "--token", "t", "k"], "does not apply to 'extend'"),
    ] as [([String], String)])
    func lockModesAreCheckedBeforeAnythingElse(_ arguments: [String], _ problem: String) {
        #expect(message(arguments).contains(problem), "\(arguments): \(message(arguments))")
    }

    @Test func lockModesParse() throws {
        for (arguments, mode) in [(["-s"], LockMode.shared), (["-x"], .exclusive), ([], .exclusive),
                                  (["-l", "2"], .slots([[49], [50]], named: false)), (["--slots", "b,a"], .slots([[98], [97]], named: true))] {
            guard case let .run(options, _) = try Main.prepare(["run"] + arguments + ["k", "--", "true"], environment: { _ in nil }) else {
                Issue.record("\(arguments)")
                continue
            }
            #expect(options.waiting.mode == mode, "\(arguments)")
        }
    }
}
