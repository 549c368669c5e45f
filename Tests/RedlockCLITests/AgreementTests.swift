// The man page and the shell completions against the option table.
//
// OptionTable.all and Subcommand.allCases drive the parser and --help; the man page and
// the three completion files are written by hand. These tests fail when one of them misses
// an option, a short letter, a command, a default or an exit status, or mentions an option
// the table does not know, so none of them can drift from the binary unnoticed.

import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import redlock
import TestSupport

/// The package's files, found from this source file's path (no working directory assumed).
enum PackageFiles {
    /// <root>/Tests/RedlockCLITests/AgreementTests.swift -> <root>
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    static func read(_ relative: String) throws -> String {
        try String(contentsOf: url(relative), encoding: .utf8)
    }

    static let manPage = "man/redlock.1"
    static let bash = "completions/redlock.bash"
    static let zsh = "completions/_redlock"
    static let fish = "completions/redlock.fish"
    static let completions = [bash, zsh, fish]
}

/// Words that look like long options but are not redlock's (none today; say why when adding).
let foreignLongOptions: Set<String> = [
    "--static-swift-stdlib",  // the build flag, should a page mention how the binary was built
    "--timeout", "--nonblock",  // flock(1)'s, which the man page says how to write in redlock
]

/// The exit statuses of SPEC's table (126 / 127 is one row there).
let specExitCodes = [0, 1, 64, 69, 70, 75, 76, 77, 78, 124, 126, 127]

/// `--long` words in `text` (after roff escapes were resolved, for the man page).
func longOptionWords(in text: String) -> Set<String> {
    var found: Set<String> = []
    for match in text.matches(of: /(?:^|[^A-Za-z0-9_-])(--[a-z][a-z0-9-]*)/.anchorsMatchLineEndings()) {
        var word = String(match.output.1)
        while word.hasSuffix("-") { word.removeLast() }
        found.insert(word)
    }
    return found
}

/// Whether `word` stands in `text` as a word of its own (not inside a longer name).
func containsWord(_ text: String, _ word: String) -> Bool {
    var searchRange = text.startIndex..<text.endIndex
    while let range = text.range(of: word, range: searchRange) {
        let before = range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
        let after = range.upperBound == text.endIndex ? nil : text[range.upperBound]
        func isNameCharacter(_ c: Character?) -> Bool {
            guard let c else { return false }
            return c.isLetter || c.isNumber || c == "_" || c == "-"
        }
        if !isNameCharacter(before) && !isNameCharacter(after) { return true }
        searchRange = range.upperBound..<text.endIndex
    }
    return false
}

/// The man page as a reader sees its words: font changes dropped, escapes resolved.
enum Roff {
    static func plain(_ line: String) -> String {
        var text = line
        text = text.replacing(/\\f(\[[^\]]*\]|\([A-Za-z]{2}|[A-Za-z0-9])/, with: "")
        let escapes: [(String, String)] = [
            ("\\-", "-"), ("\\(aq", "'"), ("\\(lq", "\""), ("\\(rq", "\""), ("\\(dq", "\""),
            ("\\(em", "—"), ("\\%", ""), ("\\(en", "–"), ("\\(mu", "×"), ("\\&", ""), ("\\ ", " "), ("\\e", "\\"),
        ]
        for (escape, replacement) in escapes { text = text.replacingOccurrences(of: escape, with: replacement) }
        return text
    }

    /// A macro line's text: ".BR foo , bar" -> "foo, bar"; a text line as it is.
    static func words(_ line: String) -> String {
        guard line.hasPrefix(".") else { return plain(line) }
        let parts = line.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return "" }
        var arguments: [String] = []
        var current = ""
        var quoted = false
        for c in parts[1] {
            if c == "\"" { quoted.toggle(); continue }
            if c == " " && !quoted {
                if !current.isEmpty { arguments.append(current) }
                current = ""
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { arguments.append(current) }
        let alternating = ["BR", "RB", "IR", "RI", "BI", "IB"].contains(String(parts[0].dropFirst()))
        return plain(arguments.joined(separator: alternating ? "" : " "))
    }

    /// The source lines of section `name` (from its .SH to the next .SH).
    static func section(_ name: String, of lines: [String]) -> [String] {
        guard let start = lines.firstIndex(where: { $0 == ".SH \(name)" || $0 == ".SH \"\(name)\"" }) else { return [] }
        let rest = lines[(start + 1)...]
        let end = rest.firstIndex { $0.hasPrefix(".SH ") } ?? lines.endIndex
        return Array(lines[(start + 1)..<end])
    }

    /// Each .TP entry of `lines`: its tag line (as words) and its body (as one line of words).
    static func entries(_ lines: [String]) -> [(tag: String, body: String)] {
        var result: [(tag: String, body: String)] = []
        var index = 0
        while index < lines.count {
            guard lines[index] == ".TP", index + 1 < lines.count else { index += 1; continue }
            let tag = words(lines[index + 1])
            var body: [String] = []
            index += 2
            while index < lines.count && !lines[index].hasPrefix(".TP") && !lines[index].hasPrefix(".SS")
                    && !lines[index].hasPrefix(".SH") && !lines[index].hasPrefix(".PP") {
                if !lines[index].hasPrefix(".\\\"") { body.append(words(lines[index])) }
                index += 1
            }
            let joined = body.joined(separator: " ").split(whereSeparator: \.isWhitespace).joined(separator: " ")
            result.append((tag, joined))
        }
        return result
    }
}

@Suite struct ManPageAgreementTests {
    let lines: [String]
    let text: String

    init() throws {
        // An input line that ends in a backslash continues on the next one.
        var joined: [String] = []
        var pending = ""
        for line in try PackageFiles.read(PackageFiles.manPage).components(separatedBy: "\n") {
            if line.hasSuffix("\\") && !line.hasSuffix("\\\\") {
                pending += line.dropLast()
            } else {
                joined.append(pending + line)
                pending = ""
            }
        }
        lines = joined
        text = lines.filter { !$0.hasPrefix(".\\\"") }.map(Roff.words).joined(separator: "\n")
    }

    @Test func everyOptionHasAnEntryWithItsNamesAndArgument() {
        let tags = Set(Roff.entries(Roff.section("OPTIONS", of: lines)).map(\.tag))
        for spec in OptionTable.all {
            let signature = spec.signature.trimmingCharacters(in: .whitespaces)
            #expect(tags.contains(signature), "man page OPTIONS has no entry '\(signature)'")
        }
    }

    @Test func everyEntryShowsTheTablesDefault() {
        let entries = Roff.entries(Roff.section("OPTIONS", of: lines))
        for spec in OptionTable.all {
            let signature = spec.signature.trimmingCharacters(in: .whitespaces)
            guard let entry = entries.first(where: { $0.tag == signature }) else { continue }  // reported above
            if let value = spec.defaultText {
                #expect(entry.body.contains("Default: \(value)"),
                        "man page: --\(spec.long) should say 'Default: \(value)'; it says: \(entry.body)")
            } else {
                #expect(!entry.body.contains("Default:"), "man page: --\(spec.long) has no default in the table: \(entry.body)")
            }
        }
    }

    /// The --ttl minimum the parser enforces is the one the man page and help state.
    @Test func theTTLMinimumIsTheParsers() throws {
        let minimum = try Config.minimumTTL(Parser.parse(["run", "k", "true"]))
        #expect(DurationSyntax.format(minimum) == "1s")
        #expect(try Config.minimumTTL(Parser.parse(["--op-timeout", "2s", "run", "k", "true"])) == .seconds(6))
        let entry = Roff.entries(Roff.section("OPTIONS", of: lines)).first { $0.tag == "-t, --ttl D" }
        #expect(entry?.body.contains("at least 1s, and at least 3 times --op-timeout") == true, "\(entry?.body ?? "no entry")")
        for command in [Subcommand.run, .acquire, .extend] {
            #expect(OptionTable.named("ttl")!.help(for: command).contains("at least 1s and 3 x --op-timeout"))
        }
    }

    @Test func mentionsOnlyKnownOptions() {
        let known = Set(OptionTable.all.map { "--\($0.long)" })
        let unknown = longOptionWords(in: text).subtracting(known).subtracting(foreignLongOptions)
        #expect(unknown.isEmpty, "man page mentions options the table does not know: \(unknown.sorted())")
    }

    @Test func synopsisHasEveryForm() {
        let synopsis = Roff.section("SYNOPSIS", of: lines).map(Roff.words)
        for command in Subcommand.allCases {
            let form = "redlock " + (command == .help ? "" : "[GLOBAL OPTIONS] ") + command.synopsis
            #expect(synopsis.contains(form), "man page SYNOPSIS lacks '\(form)'")
        }
        for form in ["redlock --help", "redlock COMMAND --help", "redlock --version"] {
            #expect(synopsis.contains(form), "man page SYNOPSIS lacks '\(form)'")
        }
    }

    @Test func everyCommandIsDescribed() {
        let tags = Roff.entries(Roff.section("COMMANDS", of: lines)).map(\.tag)
        for command in Subcommand.allCases {
            #expect(tags.contains { $0 == command.rawValue || $0.hasPrefix(command.rawValue + " ") },
                    "man page COMMANDS has no entry for '\(command.rawValue)'")
        }
    }

    @Test func exitStatusListsEverySpecCode() throws {
        let tags = Roff.entries(Roff.section("EXIT STATUS", of: lines)).map(\.tag)
        let listed = Set(tags.flatMap { $0.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) } })
        for code in specExitCodes {
            #expect(listed.contains(code), "man page EXIT STATUS has no entry for \(code)")
        }
        #expect(tags.contains { $0.hasPrefix("COMMAND") }, "man page EXIT STATUS does not say that run passes COMMAND's status on")
    }

    /// The codes above are SPEC's table; where the SPEC is checked out next to the package
    /// (../shared/SPEC.md), make sure the list still matches it.
    @Test func exitCodeListMatchesSpecWhenPresent() throws {
        let spec = PackageFiles.root.deletingLastPathComponent().appendingPathComponent("shared/SPEC.md")
        guard let text = try? String(contentsOf: spec, encoding: .utf8),
              let table = text.range(of: "## Exit status") else { return }
        var codes: Set<Int> = []
        for line in text[table.upperBound...].split(separator: "\n") where line.hasPrefix("| ") {
            let first = line.split(separator: "|").first.map(String.init) ?? ""
            for number in first.split(whereSeparator: { !$0.isNumber }) { if let code = Int(number) { codes.insert(code) } }
        }
        #expect(codes == Set(specExitCodes), "SPEC's exit codes changed: \(codes.sorted())")
    }

    @Test func environmentHasEveryVariable() {
        let environment = Roff.section("ENVIRONMENT", of: lines).map(Roff.words).joined(separator: " ")
        for name in ["REDLOCK_URLS", "REDLOCK_PASSWORD", "REDLOCK_PREFIX", "REDLOCK_RESTART_GRACE",
                     "REDLOCK_TLS_CA_CERT", "REDLOCK_TLS_CERT", "REDLOCK_TLS_KEY", "REDLOCK_TLS_SERVER_NAME", "REDLOCK_TLS_INSECURE",
                     "REDLOCK_KEY", "REDLOCK_TOKEN", "REDLOCK_FENCING_TOKEN"] {
            #expect(containsWord(environment, name), "man page ENVIRONMENT does not mention \(name)")
        }
    }
}

@Suite struct CompletionAgreementTests {
    @Test(arguments: PackageFiles.completions)
    func everyCommandIsOffered(_ file: String) throws {
        let text = try PackageFiles.read(file)
        for command in Subcommand.allCases {
            #expect(containsWord(text, command.rawValue), "\(file) does not offer the command '\(command.rawValue)'")
        }
    }

    @Test(arguments: [PackageFiles.bash, PackageFiles.zsh])
    func bashAndZshNameEveryOption(_ file: String) throws {
        let text = try PackageFiles.read(file)
        let words = longOptionWords(in: text)
        for spec in OptionTable.all {
            #expect(words.contains("--\(spec.long)"), "\(file) lacks --\(spec.long)")
            if let short = spec.short {
                #expect(containsWord(text, "-\(short)"), "\(file) lacks -\(short) (--\(spec.long))")
            }
        }
        let unknown = words.subtracting(OptionTable.all.map { "--\($0.long)" }).subtracting(foreignLongOptions)
        #expect(unknown.isEmpty, "\(file) mentions options the table does not know: \(unknown.sorted())")
    }

    @Test func fishNamesEveryOption() throws {
        let text = try PackageFiles.read(PackageFiles.fish)
        // Only the `complete` lines: elsewhere, `set -l` declares a variable.
        let completeLines = text.split(separator: "\n").filter { $0.hasPrefix("complete ") }.joined(separator: "\n")
        let longs = Set(completeLines.matches(of: /(?:^|\s)-l\s+([a-z][a-z0-9-]*)/.anchorsMatchLineEndings()).map { String($0.output.1) })
        let shorts = Set(completeLines.matches(of: /(?:^|\s)-s\s+([A-Za-z])\b/.anchorsMatchLineEndings()).map { String($0.output.1) })
        for spec in OptionTable.all {
            #expect(longs.contains(spec.long), "\(PackageFiles.fish) lacks -l \(spec.long)")
            if let short = spec.short {
                #expect(shorts.contains(String(short)), "\(PackageFiles.fish) lacks -s \(short) (--\(spec.long))")
            }
        }
        let table = Set(OptionTable.all.map(\.long))
        #expect(longs.subtracting(table).isEmpty, "fish completes options the table does not know: \(longs.subtracting(table).sorted())")
        let unknown = longOptionWords(in: text).subtracting(OptionTable.all.map { "--\($0.long)" }).subtracting(foreignLongOptions)
        #expect(unknown.isEmpty, "\(PackageFiles.fish) mentions options the table does not know: \(unknown.sorted())")
        let letters = Set(OptionTable.all.compactMap(\.short).map(String.init))
        #expect(shorts.subtracting(letters).isEmpty, "fish completes letters the table does not know: \(shorts.subtracting(letters).sorted())")
    }
}

/// What each shell actually offers after `redlock COMMAND -`: exactly the options the table
/// gives that command (its own and the global ones), long names and letters.
@Suite struct CompletionBehaviourTests {
    static func expected(for command: Subcommand?) -> Set<String> {
        let (own, global) = OptionTable.options(for: command)
        return Set((own + global).flatMap { spec in ["--\(spec.long)"] + (spec.short.map { ["-\($0)"] } ?? []) })
    }

    static let cases: [Subcommand?] = [nil] + Subcommand.allCases.map { $0 }

    @Test(.enabled(if: Shell.bash != nil || Shell.inCI), arguments: cases)
    func bashOffersTheTablesOptions(_ command: Subcommand?) throws {
        let line = "redlock " + (command.map { "\($0.rawValue) " } ?? "") + "-"
        let offered = try Shell.completeBash(line)
        #expect(Set(offered) == Self.expected(for: command), "bash: '\(line)'")
    }

    @Test(.enabled(if: Shell.fish != nil || Shell.inCI), arguments: cases)
    func fishOffersTheTablesOptions(_ command: Subcommand?) throws {
        let line = "redlock " + (command.map { "\($0.rawValue) " } ?? "") + "-"
        let offered = try Shell.completeFish(line)
        #expect(Set(offered) == Self.expected(for: command), "fish: '\(line)'")
    }

    @Test(.enabled(if: Shell.zsh != nil || Shell.inCI), arguments: cases)
    func zshOffersTheTablesOptions(_ command: Subcommand?) throws {
        let line = "redlock " + (command.map { "\($0.rawValue) " } ?? "") + "-"
        let offered = try Shell.completeZsh(line)
        #expect(Set(offered) == Self.expected(for: command), "zsh: '\(line)'")
    }

    @Test(.enabled(if: (Shell.bash != nil && Shell.fish != nil && Shell.zsh != nil) || Shell.inCI))
    func everyShellOffersTheCommands() throws {
        let commands = Set(Subcommand.allCases.map(\.rawValue))
        #expect(Set(try Shell.completeBash("redlock ")) == commands)
        #expect(Set(try Shell.completeFish("redlock ")) == commands)
        #expect(Set(try Shell.completeZsh("redlock ")) == commands)
    }
}

/// Runs a shell's own completion machinery on the package's completion files.
enum Shell {
    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static let bash = find("bash")
    static let zsh = find("zsh")
    static let fish = find("fish")

    /// In CI (`make test` installs zsh and fish) a missing shell fails the test; on a
    /// developer's machine without them, the shell's tests are skipped.
    static let inCI = ProcessInfo.processInfo.environment["CI"] == "true"

    struct Missing: Error, CustomStringConvertible {
        let name: String
        var description: String { "\(name) not found on PATH ('make test' installs it)" }
    }

    static func required(_ path: String?, _ name: String) throws -> String {
        guard let path else { throw Missing(name: name) }
        return path
    }

    /// Calls the function that completions/redlock.bash registers, as bash would for `line`.
    static func completeBash(_ line: String) throws -> [String] {
        let script = """
            source "$COMPLETION_FILE"
            COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
            function=$(complete -p redlock | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')
            "$function" redlock "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let words = line.components(separatedBy: " ")
        return try run(try required(bash, "bash"), ["-c", script, "bash"] + words,
                       environment: ["COMPLETION_FILE": PackageFiles.url(PackageFiles.bash).path])
    }

    /// `complete -C` on the package's fish completions.
    static func completeFish(_ line: String) throws -> [String] {
        let output = try run(try required(fish, "fish"), ["--no-config", "-c", "source $COMPLETION_FILE; complete -C $COMPLETION_LINE"],
                             environment: ["COMPLETION_FILE": PackageFiles.url(PackageFiles.fish).path, "COMPLETION_LINE": line])
        return output.map { String($0.split(separator: "\t", maxSplits: 1).first ?? "") }
    }

    /// An interactive zsh on a pseudo-terminal (zpty) types `line` and TAB; a wrapped
    /// compadd prints every candidate the completion function adds. TAB runs a widget that
    /// completes and then prints the end marker, so no second keystroke can race the
    /// completion (zsh may discard typeahead when an ambiguous completion beeps).
    static func completeZsh(_ line: String) throws -> [String] {
        let script = #"""
            zmodload zsh/zpty || exit 2
            zpty z zsh -f -i
            zpty -w z 'PROMPT=; RPROMPT=; fpath=("$COMPLETION_DIR" $fpath); autoload -U compinit; compinit -u -D'
            zpty -w z 'compadd () { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi; typeset -a hits; builtin compadd -A hits "$@"; local h; for h in $hits; do print -r -- "<""<$h>"">"; done; }'
            zpty -w z 'finish () { zle complete-word; print -r -- "<""<EOC>"">"; zle kill-whole-line; }; zle -N finish; bindkey "^I" finish'
            zpty -n -w z "$COMPLETION_LINE"$'\t'
            local out
            while zpty -r z out; do
              out=${out//$'\r'/}
              [[ $out == *'<<EOC>>'* ]] && break
              while [[ $out == *'<<'*'>>'* ]]; do
                out=${out#*<<}; print -r -- "${out%%>>*}"; out=${out#*>>}
              done
            done
            zpty -d z
            """#
        let output = try run(try required(zsh, "zsh"), ["-f", "-c", script],
                             environment: ["COMPLETION_DIR": PackageFiles.url("completions").path, "COMPLETION_LINE": line],
                             timeout: 30)
        return Array(Set(output))
    }

    struct Failed: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `executable` to completion; its stdout as lines (empty ones dropped).
    ///
    /// TestSupport's ChildProcess, not Foundation's Process: Swift Testing's worker threads
    /// block almost every signal, which Process passes on and which breaks zsh's zpty.
    /// Output goes to files, so nothing waits for EOF.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String],
                    timeout: TimeInterval = 30) throws -> [String] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("redlock-agreement-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outPath = directory.appendingPathComponent("stdout").path
        let errPath = directory.appendingPathComponent("stderr").path
        let input = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let output = open(outPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let errors = open(errPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { [input, output, errors].filter { $0 >= 0 }.forEach { close($0) } }
        guard input >= 0, output >= 0, errors >= 0 else { throw Failed(description: "cannot open the output files in \(directory.path)") }

        var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "TERM": "dumb", "LANG": "C.UTF-8"]
        env["HOME"] = directory.path  // no user rc files, no history
        env.merge(environment) { _, new in new }
        let child = try ChildProcess(executable: executable, arguments: arguments, environment: env,
                                     stdin: input, stdout: output, stderr: errors)
        var termination = child.waitForExit(timeout: timeout)
        let timedOut = termination == nil
        if timedOut {
            child.signalGroup(SIGKILL)
            child.signal(SIGKILL)
            termination = child.waitForExit()
        }
        let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let errorText = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        guard !timedOut, let termination, termination.exitCode == 0 else {
            throw Failed(description: "\(executable) \(arguments.last ?? "") "
                + (timedOut ? "did not finish within \(timeout) s" : "failed (status \(termination?.status ?? -1))") + ": \(errorText)")
        }
        return text.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }
}
