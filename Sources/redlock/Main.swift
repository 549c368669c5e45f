import Glibc
import RedlockCore

/// Reads the command line once, runs the command, and turns every outcome into an exit
/// status: the only place that decides one.
enum Main {
    static func run(_ arguments: [String], environment: Config.Environment) -> Int32 {
        var quiet = false
        do throws(Failure) {
            let invocation = try Parser.parse(arguments)
            quiet = invocation.has("quiet")
            if invocation.has("version") {
                FileDescriptor.standardOutput.writeAll("redlock \(Version.number)\n")
                return ExitCode.success.rawValue
            }
            if invocation.has("help") || invocation.command == .help || invocation.command == nil {
                return try help(invocation)
            }
            let command = invocation.command!
            if let misplaced = invocation.values.keys.compactMap(OptionTable.named).first(where: { !$0.applies(to: command) }) {
                throw Failure.usage("option '--\(misplaced.long)' does not apply to '\(command.rawValue)'", command: command.rawValue)
            }
            let console = Console(quiet: quiet, verbose: invocation.has("verbose") && !quiet)
            let config = try Config.resolve(invocation, environment: environment, console: console)
            switch command {
            case .run: return try RunCommand.execute(invocation, config: config)
            case .acquire: return try ScriptCommands.acquire(invocation, config: config)
            case .extend: return try ScriptCommands.extend(invocation, config: config)
            case .release: return try ScriptCommands.release(invocation, config: config)
            case .help: return try help(invocation)
            }
        } catch {
            if let message = error.message {
                FileDescriptor.standardError.writeAll("redlock: \(message)\n")
            }
            return error.status
        }
    }

    private static func help(_ invocation: Invocation) throws(Failure) -> Int32 {
        var topic = invocation.command == .help ? nil : invocation.command
        if invocation.command == .help, let name = invocation.positionals.first {
            guard let command = Subcommand(rawValue: name) else {
                throw Failure.usage("no help for unknown command '\(name)'")
            }
            topic = command
        }
        if invocation.command == nil && !invocation.has("help") {
            FileDescriptor.standardError.writeAll(Help.text(for: nil))
            return ExitCode.usage.rawValue
        }
        FileDescriptor.standardOutput.writeAll(Help.text(for: topic))
        return ExitCode.success.rawValue
    }
}
