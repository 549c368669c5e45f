// The shell completions as a shell runs them. (Tests/RedlockCLITests/AgreementTests.swift
// checks them against the option table; here: that they load and answer what a user
// types.)

import Foundation
import Testing

@Suite struct CompletionTests {
    /// <root>/Tests/IntegrationTests/CompletionTests.swift -> <root>/completions
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("completions")

    static func shell(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { URL(fileURLWithPath: "\($0)/\(name)") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// What bash's programmable completion offers for `words` (the last one is the word
    /// being completed), with completions/redlock.bash sourced the way bash-completion
    /// would, and nothing else loaded.
    static func bashCompletions(_ words: [String]) throws -> [String] {
        let script = """
            source "$1"; shift
            COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
            spec=$(complete -p redlock) || exit 3
            function=${spec#*-F }; function=${function%% *}
            "$function" redlock "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let file = directory.appendingPathComponent("redlock.bash").path
        let result = try RedlockProcess(executable: shell("bash")!, ["-c", script, "bash", file] + words).wait(timeout: 30)
        #expect(result.status == 0, "\(result)")
        return result.stdout.split(separator: "\n").map(String.init)
    }

    @Test(.enabled(if: shell("bash") != nil))
    func bashCompletesTheCommandName() throws {
        #expect(try Self.bashCompletions(["redlock", "ru"]) == ["run"])
    }

    @Test(.enabled(if: shell("bash") != nil))
    func bashCompletesALongOption() throws {
        #expect(try Self.bashCompletions(["redlock", "run", "--lo"]).contains("--lost-signal"))
    }

    @Test(.enabled(if: shell("bash") != nil))
    func bashCompletesSignalNames() throws {
        let offered = try Self.bashCompletions(["redlock", "run", "--lost-signal", ""])
        #expect(offered.contains("TERM"))
        #expect(Set(offered) == ["HUP", "INT", "QUIT", "KILL", "USR1", "USR2", "ALRM", "TERM"])
        // bash splits "--lost-signal=TE" at the "=".
        #expect(try Self.bashCompletions(["redlock", "run", "--lost-signal", "=", "TE"]) == ["TERM"])
    }

    @Test(.enabled(if: shell("bash") != nil))
    func bashCompletesTheCommandAfterKey() throws {
        // After KEY (and "--"), the shell's own command completion takes over.
        #expect(try Self.bashCompletions(["redlock", "run", "deploy", "--", "ech"]).contains("echo"))
        #expect(try Self.bashCompletions(["redlock", "run", "-t", "5s", "deploy", "ech"]).contains("echo"))
        // An option's value is not taken for KEY.
        #expect(!(try Self.bashCompletions(["redlock", "run", "-t", "5s", "ech"]).contains("echo")))
    }

    @Test(.enabled(if: shell("bash") != nil))
    func bashCompletesFilesForThePasswordFile() throws {
        let scratch = try TestScratch()
        try Data("x\n".utf8).write(to: URL(fileURLWithPath: scratch.file("secret-password")))
        let offered = try Self.bashCompletions(["redlock", "--password-file", scratch.file("secret-")])
        #expect(offered == [scratch.file("secret-password")])
    }

    @Test(arguments: ["bash", "zsh", "fish"])
    func completionFilesParse(_ name: String) throws {
        guard let shell = Self.shell(name) else { return }  // not installed here: nothing to check
        let file = ["bash": "redlock.bash", "zsh": "_redlock", "fish": "redlock.fish"][name]!
        let result = try RedlockProcess(executable: shell, ["-n", Self.directory.appendingPathComponent(file).path]).wait(timeout: 30)
        #expect(result.status == 0, "\(name) -n \(file): \(result)")
        #expect(result.stderr.isEmpty, "\(name) -n \(file): \(result)")
    }

    @Test(.enabled(if: shell("fish") != nil))
    func fishCompletesCommandsOptionsAndSignals() throws {
        func complete(_ line: String) throws -> [String] {
            let result = try RedlockProcess(
                executable: Self.shell("fish")!,
                ["--no-config", "-c", "source $argv[1]; complete -C $argv[2]",
                 Self.directory.appendingPathComponent("redlock.fish").path, line]).wait(timeout: 30)
            #expect(result.status == 0, "\(result)")
            return result.stdout.split(separator: "\n").map { String($0.split(separator: "\t").first ?? "") }
        }
        #expect(try complete("redlock ru") == ["run"])
        #expect(try complete("redlock run --lo").contains("--lost-signal"))
        #expect(Set(try complete("redlock run --lost-signal ")) == ["HUP", "INT", "QUIT", "KILL", "USR1", "USR2", "ALRM", "TERM"])
        #expect(try complete("redlock run deploy -- ech").contains("echo"))
    }
}
