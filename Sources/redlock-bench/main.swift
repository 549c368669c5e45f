// redlock-bench (`make bench`): redlock against flock(1), measured in the same run on this
// machine, printed as one table on stdout.
//
// Why one program measures both: figures taken on different days or machines cannot be
// compared, and this machine is shared and noisy, so every redlock figure comes with its
// baseline taken minutes (or, paired, milliseconds) apart under the same load. The bench
// starts its own redis-server instances and removes them at the end, also on error, on
// Ctrl-C, and if it overruns its time budget.
//
// Exit status: 0 when every figure was taken, whether or not it meets its target (this is
// a measurement, not a test); 1 when nothing could be measured (a tool or redis-server
// missing, servers not starting); 2 when some figure could not be taken.
import Glibc
import RedlockCore

_ = Progress.started
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == PeakMemoryProbe.flag, arguments.count > 1 {
    PeakMemoryProbe.main(Array(arguments.dropFirst()))
}
if !arguments.isEmpty {
    FileDescriptor.standardError.writeAll("usage: redlock-bench (no arguments; run it with make bench)\n")
    exit(64)
}

/// Well under the 3 minutes allowed; a normal run takes about 70 s on 2 cores.
let budget = Duration.seconds(170)

let workspace: Workspace
do {
    workspace = try Workspace(budget: budget)
} catch {
    Progress.say("\(error)")
    exit(1)
}

let context: Context
do {
    Progress.say("starting \(Context.instanceCounts.max()!) redis-server instances in \(workspace.path)")
    context = try Context.prepare(workspace)
} catch {
    Progress.say("cannot measure anything: \(error)")
    workspace.tearDown()
    exit(1)
}

var report = Report()
StartupBench.run(context, report: &report)
HandoffBench.run(context, report: &report)
RoundTripBench.run(context, report: &report)
RedisLoadBench.run(context, report: &report)

Progress.say("stopping the servers")
context.stopServers()
workspace.tearDown()
FileDescriptor.standardOutput.writeAll(report.render(header: context.header, elapsed: Instant.now() - Progress.started))
exit(report.hasUnmeasured ? 2 : 0)
