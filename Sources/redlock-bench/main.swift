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

// The top level calls one function: the release build does not import _Concurrency (see
// the Makefile), so top-level variables here would be unguarded globals.
func runBench() -> Never {
    _ = Progress.started
    let arguments = Array(CommandLine.arguments.dropFirst())
    if arguments.first == PeakMemoryProbe.flag, arguments.count > 1 {
        PeakMemoryProbe.main(Array(arguments.dropFirst()))
    }
    /// The measures by name: all of them by default, or those named on the command line (for
    /// a developer iterating on one figure; `make bench` runs them all).
    let measures: [(name: String, run: (Context, inout Report) -> Void)] = [
        ("start-up", StartupBench.run), ("hand-off", HandoffBench.run),
        ("in-process", RoundTripBench.run), ("load", RedisLoadBench.run),
        ("hung-instance", HungInstanceBench.run), ("modes", ModeStartupBench.run),
        ("queue", QueueBench.run),
    ]
    let unknown = arguments.filter { name in !measures.contains { $0.name == name } }
    if !unknown.isEmpty {
        let names = measures.map(\.name).joined(separator: "|")
        FileDescriptor.standardError.writeAll("usage: redlock-bench [\(names)]... (all by default; run them all with make bench)\n")
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
    for measure in measures where arguments.isEmpty || arguments.contains(measure.name) {
        measure.run(context, &report)
    }

    Progress.say("stopping the servers")
    context.stopServers()
    workspace.tearDown()
    FileDescriptor.standardOutput.writeAll(report.render(header: context.header, elapsed: Instant.now() - Progress.started))
    exit(report.hasUnmeasured ? 2 : 0)
}

runBench()
