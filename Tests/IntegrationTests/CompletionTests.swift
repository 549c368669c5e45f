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

    /// What bash offers when `line` is typed at an interactive bash's prompt and Tab is
    /// pressed: bash itself splits the line into COMP_WORDS (at ':' and '=' too, by
    /// COMP_WORDBREAKS), on a pseudo-terminal from script(1).
    static func bashCompletionsTyped(_ line: String) throws -> [String] {
        let scratch = try TestScratch()
        let file = directory.appendingPathComponent("redlock.bash").path
        let rc = """
            source '\(file)'
            _dump() { _redlock "$@"; printf '%s\\n' "${COMPREPLY[@]}" > '\(scratch.file("offered"))'; echo done > '\(scratch.file("done"))'; }
            complete -F _dump redlock
            PS1='$ '
            """
        try Data(rc.utf8).write(to: URL(fileURLWithPath: scratch.file("rc")))
        let keys = "sleep 0.5; printf '%s\\t' \"$LINE\"; sleep 1; printf '\\003'; sleep 0.2; printf 'exit\\n'; sleep 0.3"
        let command = "(\(keys)) | script -qec \"bash --rcfile '\(scratch.file("rc"))' --noprofile -i\" /dev/null > /dev/null 2>&1"
        let result = try RedlockProcess(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", command], environment: ["LINE": line]).wait(timeout: 30)
        #expect(scratch.read("done") == "done\n", "completion did not run for \(line.debugDescription): \(result)")
        return (scratch.read("offered") ?? "").split(separator: "\n").map(String.init)
    }

    /// bash splits "redis://host:6379" at each ':' (COMP_WORDBREAKS): the completion must
    /// still see one URL, and offer the options and commands that follow it.
    @Test(.enabled(if: shell("bash") != nil && executableInPath("script") != nil))
    func bashCompletesAfterAURLWithAPort() throws {
        #expect(try Self.bashCompletionsTyped("redlock run -r redis://host:6379 --t").contains("--ttl"))
        #expect(try Self.bashCompletionsTyped("redlock -r redis://host:6379 ru") == ["run"])
        #expect(try Self.bashCompletionsTyped("redlock --redis=redis://h:1 -r redis://[::1]:2 inspe") == ["inspect"])
        #expect(try Self.bashCompletionsTyped("redlock run -r redis://h:1 deploy ech").contains("echo"))
        // Inside the URL, what bash replaces is the part after the last ':'.
        #expect(try Self.bashCompletionsTyped("redlock -r redis:") == ["//"])
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
