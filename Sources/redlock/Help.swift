/// `--help` text, generated from the option table so it cannot drift from the parser.
enum Help {
    static let width = 80
    static let column = 30

    static func text(for command: Subcommand?) -> String {
        var out: [String] = []
        if let command, command != .help {
            out.append("usage: redlock [GLOBAL OPTIONS] \(command.synopsis)")
            out.append("")
            out += wrap(command.details, indent: 0)
            let (own, _) = OptionTable.options(for: command)
            if !own.isEmpty {
                out.append("")
                out.append("Options:")
                out += own.flatMap { describe($0, for: command) }
            }
            // The global options are the same for every command: one line, not thirty.
            out.append("")
            out += wrap("Global options (-r URL, --password-file, the timeouts, --prefix, --restart-grace, the TLS options, -q, -v): see 'redlock --help'.", indent: 0)
            if command == .run {
                out.append("")
                out += wrap("Examples: redlock run nightly-report -- ./report.sh; redlock run -w 20m deploy-prod -- ./deploy.sh; redlock run -n -E 0 hourly -- ./sync.sh (skip quietly if another host runs it).", indent: 0)
            }
        } else {
            out += synopsis
            out.append("")
            out += wrap("Runs a command under a distributed lock held in Redis, with the Redlock algorithm over one or more independent Redis masters (a quorum of floor(N/2)+1 must agree).", indent: 0)
            out.append("")
            out.append("Commands:")
            let nameWidth = Subcommand.allCases.map(\.rawValue.count).max()! + 2
            for command in Subcommand.allCases {
                out.append("  " + command.rawValue.padding(to: nameWidth) + command.summary)
            }
            out.append("")
            out.append("Global options:")
            out += OptionTable.options(for: nil).global.flatMap { describe($0, for: nil) }
            out.append("")
            out.append("Environment:")
            out.append("  REDLOCK_URLS      instance URLs, separated by spaces or commas")
            out.append("  REDLOCK_PASSWORD  password for instances whose URL has none")
            out.append("  REDLOCK_PREFIX    prepended to every key")
            out.append("  REDLOCK_RESTART_GRACE  as --restart-grace")
            out.append("  REDLOCK_TLS_CA_CERT, REDLOCK_TLS_CERT, REDLOCK_TLS_KEY,")
            out.append("  REDLOCK_TLS_SERVER_NAME, REDLOCK_TLS_INSECURE  as the TLS options")
            out.append("")
            out += wrap("Exit status: run exits with COMMAND's status; 0 success, 1 inspect: not held / doctor: warnings / force-release --token: no match, 64 usage error, 69 quorum unreachable, 70 internal error, 75 not acquired in time, 76 lock lost or not held with that token, 77 authentication refused, 78 configuration error, 124 --max-time expired, 126/127 COMMAND not executable/not found.", indent: 0)
            out.append("")
            out.append("'redlock COMMAND --help' shows a command's options; man redlock tells the rest.")
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// What bare `redlock` prints (on stderr, exit 64): the forms and where to read more,
    /// not the whole help.
    static var shortUsage: String {
        (synopsis + ["", "'redlock --help' shows every option; 'redlock COMMAND --help' a command's."]).joined(separator: "\n") + "\n"
    }

    private static var synopsis: [String] {
        var lines = ["usage: redlock [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]"]
        for command in Subcommand.allCases {
            lines.append("       redlock \(command.synopsis)")
        }
        return lines
    }

    /// One option: signature, then its help and default, wrapped under the help column.
    static func describe(_ spec: OptionSpec, for command: Subcommand?) -> [String] {
        var help = spec.help(for: command)
        if let value = spec.defaultText { help += " (default: \(value))" }
        let signature = "  " + spec.signature
        var lines = wrap(help, indent: column)
        if signature.count + 2 <= column {
            lines[0] = signature.padding(to: column) + lines[0].dropFirst(column)
        } else {
            lines.insert(signature, at: 0)
        }
        return lines
    }

    /// Greedy word wrap to `width`, every line indented by `indent`.
    static func wrap(_ text: String, indent: Int) -> [String] {
        let prefix = String(repeating: " ", count: indent)
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && indent + line.count + 1 + word.count > width {
                lines.append(prefix + line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        lines.append(prefix + line)
        return lines
    }
}

extension String {
    func padding(to length: Int) -> String {
        count >= length ? self + " " : self + String(repeating: " ", count: length - count)
    }
}
