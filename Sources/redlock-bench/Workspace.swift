import Glibc
import RedlockCore
import Synchronization

/// The bench's scratch directory and everything that must go when the bench ends: the
/// redis-server processes and the directory itself.
///
/// The bench must never leave servers behind, whether it finishes, fails, is interrupted
/// (Ctrl-C, SIGTERM) or hangs. So: servers are started with a parent-death SIGKILL
/// (RedlockCore's ChildProcess sets PR_SET_PDEATHSIG); SIGINT, SIGTERM and SIGHUP are
/// blocked in every thread and taken by one thread with sigwait, which cleans up and exits;
/// and a watchdog does the same if the bench overruns its time budget.
final class Workspace: Sendable {
    /// The private temp directory (redis logs, flock files, critical-section logs).
    let path: String
    private let servers = Mutex<[pid_t]>([])
    private let finished = Mutex(false)

    /// Creates the directory and starts the signal thread and the watchdog. Must be called
    /// before any other thread starts, so that every thread inherits the blocked signals.
    init(budget: Duration) throws(BenchError) {
        var template = Array("/tmp/redlock-bench-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw BenchError("cannot create a temp directory: \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)

        var stopping = sigset_t()
        sigemptyset(&stopping)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&stopping, signal) }
        pthread_sigmask(SIG_BLOCK, &stopping, nil)
        let signals = stopping
        Worker { [self] in
            var set = signals
            var received: Int32 = 0
            sigwait(&set, &received)
            Progress.say("interrupted by signal \(received); stopping the servers")
            self.tearDown()
            _exit(128 + received)
        }.detach()
        Worker { [self] in
            let end = Instant.now() + budget
            while Instant.now() < end { sleep(1) }
            Progress.say("still running after \(budget.milliseconds / 1000) s; giving up")
            self.tearDown()
            _exit(3)
        }.detach()
    }

    /// `name` inside the directory.
    func file(_ name: String) -> String { path + "/" + name }

    /// Remembers a server so that any ending of the bench stops it.
    func adopt(server pid: pid_t) { servers.withLock { $0.append(pid) } }

    /// Forgets a server that was stopped in an orderly way.
    func release(server pid: pid_t) { servers.withLock { $0.removeAll { $0 == pid } } }

    /// Kills whatever servers are left and removes the directory. Runs once, whoever calls.
    func tearDown() {
        let first = finished.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        Subprocess.running.killAll()
        let pids = servers.withLock { pids in
            defer { pids = [] }
            return pids
        }
        for pid in pids {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        // A critical section killed a moment ago may still be writing its log; try again.
        for _ in 1...5 {
            removeTree(path)
            if access(path, F_OK) != 0 { break }
            usleep(100_000)
        }
    }
}

/// `rm -rf path`, without starting a process (none may start once the bench is stopping).
private func removeTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if info.st_mode & S_IFMT == S_IFDIR, let directory = opendir(path) {
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                String(cString: UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(directory)
        names.forEach { removeTree(path + "/" + $0) }
        rmdir(path)
    } else {
        unlink(path)
    }
}
