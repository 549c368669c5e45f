/// What the command line asked for, before any value is interpreted.
///
/// argv is bytes, and so are KEY and COMMAND here: a file name or a key that is not UTF-8
/// reaches Redis and COMMAND unchanged. Options and their values are read as text.
struct Invocation: Sendable {
    var command: Subcommand?
    /// Option values by long name, in order; a flag's value is "".
    var values: [String: [String]] = [:]
    /// Words that are neither options nor COMMAND: KEY, or help's topic, as text (a byte
    /// that is not UTF-8 reads as U+FFFD: for messages and for the commands that match
    /// names, not for a key that is stored).
    var positionals: [String] = []
    /// The same words as given, bytes: what `run`, `acquire`, `extend` and `release` store.
    var positionalBytes: [[UInt8]] = []
    /// `run`'s COMMAND and its arguments, as given.
    var commandLine: [[UInt8]] = []

    func has(_ long: String) -> Bool { values[long] != nil }
    func last(_ long: String) -> String? { values[long]?.last }
    func all(_ long: String) -> [String] { values[long] ?? [] }
}

/// Parses argv against `OptionTable`.
///
/// Options may stand before or after the subcommand. For `run`, everything after `--` is
/// COMMAND; without `--`, the first word after KEY that is not an option starts COMMAND, so
/// `redlock run nightly ./report.sh -x` passes `-x` to the script.
enum Parser {
    /// Text arguments, for tests and callers that have no bytes.
    static func parse(_ arguments: [String]) throws(Failure) -> Invocation {
        try parse(arguments.map { Array($0.utf8) })
    }

    static func parse(_ raw: [[UInt8]]) throws(Failure) -> Invocation {
        // Options are matched as text; `raw` keeps what KEY and COMMAND are made of.
        let arguments = raw.map { String(decoding: $0, as: UTF8.self) }
        var invocation = Invocation()
        var index = 0
        var sawDoubleDash = false

        /// A repeatable option collects its values; for any other, the last one wins. A value
        /// from a word (`raw`) that is not UTF-8 is refused: option values are text, and one
        /// read with U+FFFD in place of its bytes would name another slot, prefix or mark
        /// (`--slots $'\xff'` and `$'\xfe'` were one slot), or a file that is not there.
        func store(_ spec: OptionSpec, _ value: String, from raw: [UInt8]? = nil) throws(Failure) {
            if let raw, String(validating: raw, as: UTF8.self) == nil {
                throw Failure.usage("the value of '--\(spec.long)' is not UTF-8 text (option values are text; KEY and COMMAND may be any bytes)", command: invocation.command?.rawValue)
            }
            if spec.repeatable {
                invocation.values[spec.long, default: []].append(value)
            } else {
                invocation.values[spec.long] = [value]
            }
        }

        while index < arguments.count {
            let word = arguments[index]
            index += 1

            if sawDoubleDash {
                try take(positional: word, raw: raw[index - 1], into: &invocation)
                continue
            }
            if word == "--" {
                if invocation.command == .run {
                    // Everything before "--" was options and KEY; everything after is COMMAND.
                    invocation.commandLine = Array(raw[index...])
                    break
                }
                sawDoubleDash = true
                continue
            }
            if word.hasPrefix("--") {
                let body = word.dropFirst(2)
                let name: String
                var inline: String?
                if let equals = body.firstIndex(of: "=") {
                    name = String(body[..<equals])
                    inline = String(body[body.index(after: equals)...])
                } else {
                    name = String(body)
                }
                guard let spec = OptionTable.named(name) else {
                    let hint = FlockHabit.hint(for: "--" + name) ?? suggestion(for: name)
                    throw Failure.usage("unknown option '--\(name)'" + hint, command: invocation.command?.rawValue)
                }
                if spec.takesArgument {
                    if let inline {
                        try store(spec, inline, from: raw[index - 1])
                    } else {
                        guard index < arguments.count else {
                            throw Failure.usage("option '--\(name)' needs a value (\(spec.argument!))", command: invocation.command?.rawValue)
                        }
                        try store(spec, arguments[index], from: raw[index])
                        index += 1
                    }
                } else {
                    guard inline == nil else {
                        throw Failure.usage("option '--\(name)' takes no value", command: invocation.command?.rawValue)
                    }
                    try store(spec, "")
                }
                continue
            }
            if word.hasPrefix("-") && word.count > 1 {
                var letters = Substring(word.dropFirst())
                while let letter = letters.first {
                    letters = letters.dropFirst()
                    let spec: OptionSpec
                    switch OptionTable.short(letter, for: invocation.command) {
                    case let .option(found):
                        spec = found
                    case let .notFor(other):
                        let meanings = OptionTable.all.filter { $0.short == letter }
                        if meanings.count > 1, let command = invocation.command {
                            // Which of them was meant cannot be told: name them all.
                            let list = meanings.map { "--\($0.long) for \($0.commands.map { $0.map(\.rawValue).sorted().joined(separator: "/") } ?? "every command")" }
                            throw Failure.usage("option '-\(letter)' does not apply to '\(command.rawValue)' (it means \(list.joined(separator: " and ")))", command: command.rawValue)
                        }
                        // Main names the misplaced option, as it does for a long one.
                        spec = other
                    case .unknown:
                        let hint = FlockHabit.hint(for: "-\(letter)") ?? ""
                        throw Failure.usage("unknown option '-\(letter)'" + hint, command: invocation.command?.rawValue)
                    case let .ambiguous(specs):
                        let meanings = specs.map { "--\($0.long) for \($0.commands.map { $0.map(\.rawValue).sorted().joined(separator: "/") } ?? "every command")" }
                        throw Failure.usage("option '-\(letter)' means \(meanings.joined(separator: " and ")): put it after the command", command: nil)
                    }
                    if spec.takesArgument {
                        if !letters.isEmpty {
                            try store(spec, String(letters), from: raw[index - 1])
                        } else {
                            guard index < arguments.count else {
                                throw Failure.usage("option '-\(letter)' needs a value (\(spec.argument!))", command: invocation.command?.rawValue)
                            }
                            try store(spec, arguments[index], from: raw[index])
                            index += 1
                        }
                        break
                    }
                    try store(spec, "")
                }
                continue
            }
            if invocation.command == .run && !invocation.positionals.isEmpty {
                // The first word after KEY that is not an option starts COMMAND.
                invocation.commandLine = Array(raw[(index - 1)...])
                break
            }
            try take(positional: word, raw: raw[index - 1], into: &invocation, following: arguments[index...])
        }
        return invocation
    }

    private static func take(positional word: String, raw: [UInt8], into invocation: inout Invocation, following: ArraySlice<String> = []) throws(Failure) {
        if invocation.command == nil {
            guard let command = Subcommand(rawValue: word) else {
                if let near = nearest(word, among: Subcommand.allCases.map(\.rawValue)) {
                    throw Failure.usage("unknown command '\(word)' (did you mean '\(near)'?)")
                }
                // `redlock mykey ./job.sh`: a KEY and a COMMAND without `run`.
                let rest = following.first == "--" ? following.dropFirst() : following
                guard !rest.isEmpty else { throw Failure.usage("unknown command '\(word)'") }
                let example = (["redlock", "run", word, "--"] + rest.prefix(4)).map(ShellWord.quoted).joined(separator: " ")
                throw Failure.usage("unknown command '\(word)' (to run a command under the lock '\(word)': \(example)\(rest.count > 4 ? " ..." : ""))")
            }
            invocation.command = command
            return
        }
        invocation.positionals.append(word)
        invocation.positionalBytes.append(raw)
    }

    /// " (did you mean '--ttl'?)" when an option is one or two edits away.
    static func suggestion(for name: String) -> String {
        guard let near = nearest(name, among: OptionTable.all.map(\.long)) else { return "" }
        return " (did you mean '--\(near)'?)"
    }

    static func nearest(_ word: String, among candidates: [String]) -> String? {
        let scored = candidates.map { ($0, editDistance(word, $0)) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(1, min(2, word.count / 3)) else {
            // A prefix of a long option is a near miss too: --wai for --wait.
            return word.count >= 3 ? candidates.first { $0.hasPrefix(word) } : nil
        }
        return best.0
    }

    /// Edits between `a` and `b`, a swap of two neighbours counting as one (`rnu` is one
    /// typo away from `run`, as `inpsect` is from `inspect`).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                var best = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    best = min(best, table[i - 2][j - 2] + 1)
                }
                table[i][j] = best
            }
        }
        return table[a.count][b.count]
    }
}
