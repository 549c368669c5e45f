import Glibc
import RedlockCore

/// Peak RSS of one tool run, isolated from the bench's own memory.
///
/// Why a probe process: wait4's ru_maxrss for a child the bench starts with posix_spawn is
/// never below the bench's own RSS. posix_spawn shares the parent's address space until
/// exec (vfork), and at exec Linux records the old address space's peak in the child's
/// maxrss, which persists through exec; with that, even flock(1) "uses" 11 MiB. So the
/// bench runs `redlock-bench --peak-rss-probe TOOL ARGS...` (this same binary), which
/// forks (a fresh, small copy: only its few anonymous pages) and execs TOOL, waits for
/// it, and prints getrusage(RUSAGE_CHILDREN).ru_maxrss: the largest of TOOL and whatever
/// TOOL itself waited for (`true`), TOOL being by far the largest.
enum PeakMemoryProbe {
    static let flag = "--peak-rss-probe"

    /// The probe process: runs `arguments`, prints "<KiB> <status>" on stdout, exits 0
    /// (1 if TOOL could not be started).
    static func main(_ arguments: [String]) -> Never {
        // TOOL gets /dev/null as stdout, so only our report reaches the bench's pipe.
        let report = dup(1)
        let null = open("/dev/null", O_WRONLY)
        dup2(null, 1)
        close(null)
        _ = fcntl(report, F_SETFD, FD_CLOEXEC)
        // fork + exec (not vfork: vfork would charge the probe's peak to TOOL). Not
        // RedlockCore's ChildProcess: that starts COMMAND under a guard, as a grandchild.
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = Subprocess.environment.map { strdup($0) } + [nil]
        let pid = fork()
        if pid == 0 {
            execve(argv[0]!, argv, envp)  // the bench passes full paths
            _exit(127)
        }
        guard pid > 0 else {
            FileDescriptor.standardError.writeAll("redlock-bench: probe cannot start \(arguments[0]): \(Errno.current)\n")
            exit(1)
        }
        let status = Subprocess.reap(pid)
        var usage = rusage()
        getrusage(Int32(RUSAGE_CHILDREN.rawValue), &usage)
        FileDescriptor(rawValue: report).writeAll("\(usage.ru_maxrss) \(status)\n")
        exit(0)
    }

    /// From the bench: peak RSS in KiB of one run of `arguments`, and its status.
    static func measure(_ arguments: [String]) throws(BenchError) -> (kibibytes: Int, status: Int32) {
        guard let output = Subprocess.capture([Context.ownPath, flag] + arguments) else {
            throw BenchError("the peak-RSS probe failed for \(arguments[0])")
        }
        let fields = output.split(separator: " ")
        guard fields.count == 2, let kibibytes = Int(fields[0]), let status = Int32(fields[1]) else {
            throw BenchError("the peak-RSS probe printed '\(output)'")
        }
        return (kibibytes, status)
    }
}
