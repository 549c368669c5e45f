import Glibc
import RedlockCore

/// Reads the command line once, runs the command, and turns every outcome into an exit
/// status: the only place that decides one.
enum Main {
    /// A command whose every option has been checked; nothing has touched the network yet.
    enum Prepared {
        case help(Subcommand?, toStandardError: Bool)
        case version
        case run(RunCommand.Options, Config)
        case acquire(LockWaiting, printEnvironment: Bool, Config)
        case extend(StepCommands.Target, Config)
        case release(StepCommands.Target, Config)
        case inspect(InspectCommand.Options, Config)
        case forceRelease(ForceReleaseCommand.Options, Config)
        case doctor(json: Bool, Config)
    }

    static func run(_ arguments: [[UInt8]], environment: Config.Environment) -> Int32 {
        do throws(Failure) {
            return try execute(prepare(arguments, environment: environment))
        } catch {
            if let message = error.message {
                Console.writeError(message)
            }
            // Everything is undone by now (the queue left, nothing held): die of it.
            if let signal = error.signal { signal.endThisProcess(alsoTheGroup: false) }
            return error.status
        }
    }

    /// Parses and checks everything: usage (64) and configuration (78) errors come from here.
    static func prepare(_ arguments: [String], environment: Config.Environment) throws(Failure) -> Prepared {
        try prepare(arguments.map { Array($0.utf8) }, environment: environment)
    }

    static func prepare(_ arguments: [[UInt8]], environment: Config.Environment) throws(Failure) -> Prepared {
        let invocation = try Parser.parse(arguments)
        if invocation.has("version") { return .version }
        if invocation.command == .help {
            guard let name = invocation.positionals.first else { return .help(nil, toStandardError: false) }
            guard let topic = Subcommand(rawValue: name) else {
                throw Failure.usage("no help for unknown command '\(name)'")
            }
            return .help(topic, toStandardError: false)
        }
        if invocation.has("help") { return .help(invocation.command, toStandardError: false) }
        guard let command = invocation.command else { return .help(nil, toStandardError: true) }
        if let misplaced = invocation.values.keys.compactMap(OptionTable.named).first(where: { !$0.applies(to: command) }) {
            throw Failure.usage("option '--\(misplaced.long)' does not apply to '\(command.rawValue)'", command: command.rawValue)
        }
        try Config.checkValues(invocation)
        let quiet = invocation.has("quiet")
        let console = Console(quiet: quiet, verbose: invocation.has("verbose") && !quiet)
        // Command options first: a usage error must not wait on a password file or a URL.
        switch command {
        case .run:
            let options = try RunCommand.Options.from(invocation)
            return .run(options, try Config.resolve(invocation, environment: environment, console: console))
        case .acquire:
            let waiting = try StepCommands.acquireOptions(invocation)
            return .acquire(waiting, printEnvironment: invocation.has("env"), try Config.resolve(invocation, environment: environment, console: console))
        case .extend:
            let target = try StepCommands.target(invocation)
            return .extend(target, try Config.resolve(invocation, environment: environment, console: console))
        case .release:
            let target = try StepCommands.target(invocation)
            return .release(target, try Config.resolve(invocation, environment: environment, console: console))
        case .inspect:
            return .inspect(InspectCommand.options(invocation), try Config.resolve(invocation, environment: environment, console: console))
        case .forceRelease:
            let options = try ForceReleaseCommand.options(invocation)
            return .forceRelease(options, try Config.resolve(invocation, environment: environment, console: console))
        case .doctor:
            if let extra = invocation.positionals.first {
                throw Failure.usage("unexpected '\(extra)': doctor checks every instance", command: "doctor")
            }
            return .doctor(json: invocation.has("json"), try Config.resolve(invocation, environment: environment, console: console))
        case .help:
            return .help(nil, toStandardError: false)
        }
    }

    static func execute(_ prepared: Prepared) throws(Failure) -> Int32 {
        switch prepared {
        case .version:
            FileDescriptor.standardOutput.writeAll("redlock \(Version.number)\n")
            return ExitCode.success.rawValue
        case let .help(topic, toStandardError):
            // Bare `redlock` is a usage error: a short usage goes to stderr and it exits 64.
            if toStandardError {
                FileDescriptor.standardError.writeAll(Help.shortUsage)
            } else {
                FileDescriptor.standardOutput.writeAll(Help.text(for: topic))
            }
            return toStandardError ? ExitCode.usage.rawValue : ExitCode.success.rawValue
        case let .run(options, config):
            return try RunCommand.execute(options, config: config)
        case let .acquire(waiting, printEnvironment, config):
            return try StepCommands.acquire(waiting, printEnvironment: printEnvironment, config: config)
        case let .extend(target, config):
            return try StepCommands.extend(target, config: config)
        case let .release(target, config):
            return try StepCommands.release(target, config: config)
        case let .inspect(options, config):
            return try InspectCommand.execute(options, config: config)
        case let .forceRelease(options, config):
            return try ForceReleaseCommand.execute(options, config: config)
        case let .doctor(json, config):
            return try DoctorCommand.execute(json: json, restartGrace: config.restartGrace, config: config)
        }
    }
}
