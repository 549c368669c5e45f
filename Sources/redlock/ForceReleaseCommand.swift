import Glibc
import RedlockCore

/// `redlock force-release [--yes] [--token T] KEY...`: clear a stuck lock, whoever holds it.
enum ForceReleaseCommand {
    struct Options {
        var keys: [String]
        var token: String?
        var confirmed: Bool
    }

    static func options(_ invocation: Invocation) throws(Failure) -> Options {
        guard !invocation.positionals.isEmpty, !invocation.positionals.contains("") else {
            throw Failure.usage("missing KEY", command: "force-release")
        }
        var token: String?
        if let given = invocation.last("token") {
            token = try StepCommands.checkedToken(given, command: "force-release")
        }
        return Options(keys: invocation.positionals, token: token, confirmed: invocation.has("yes"))
    }

    static func execute(_ options: Options, config: Config) throws(Failure) -> Int32 {
        // Every mode: the plain key, shared holders, slots (AnyHolder).
        let redlock = config.makeRedlock(kind: AnyHolder())
        let console = config.console
        if !options.confirmed {
            // Only a person at a terminal can confirm; a script must say --yes.
            guard FileDescriptor.standardInput.isTerminal else {
                throw Failure.usage("refusing to delete without confirmation: no terminal to ask on; pass --yes", command: "force-release")
            }
            let states = redlock.inspect(options.keys.map(config.redisKey))
            for state in states {
                FileDescriptor.standardError.writeAll(InspectCommand.text(state, config: config, redlock: redlock) + "\n")
            }
            let what = options.keys.count == 1 ? "'\(options.keys[0])'" : "these \(options.keys.count) keys"
            FileDescriptor.standardError.writeAll("Delete \(what) on every instance\(options.token == nil ? ", whoever holds it" : " where the token matches")? [y/N] ")
            let answer = readLine(strippingNewline: true)?.lowercased() ?? ""
            guard answer == "y" || answer == "yes" else {
                console.note("nothing deleted")
                return ExitCode.negative.rawValue
            }
        }

        try DuplicateServers.refuse(redlock, askingFirst: true)
        var unmatched = false
        for name in options.keys {
            var failures: [InstanceError] = []
            let done = redlock.forceRelease(config.redisKey(name), token: options.token.map(LockToken.init))
            for (index, result) in done.results.enumerated() {
                let endpoint = redlock.instances.endpoints[index]
                switch result {
                case .success(true):
                    console.print("\(name): \(endpoint): deleted")
                case .success(false):
                    console.print("\(name): \(endpoint): \(options.token == nil ? "not held" : "not held with that token")")
                case let .failure(error):
                    console.print("\(name): \(endpoint): \(error)")
                    failures.append(InstanceError(endpoint: endpoint, error: error))
                }
            }
            if !done.quorumAnswered {
                throw LockWaiting.unreachable(failures, quorum: redlock.quorum, what: "force-release '\(name)'")
            }
            if options.token != nil && !done.deletedAnywhere { unmatched = true }
        }
        return unmatched ? ExitCode.negative.rawValue : ExitCode.success.rawValue
    }
}
