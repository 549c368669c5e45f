#define _GNU_SOURCE
#include "clinux.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// The guard: a small process between redlock and COMMAND that keeps the whole job together.
// It is a child subreaper, so every process of the job that loses its parent (a daemon, a
// setsid'd helper, a grandchild whose parent exited) becomes its child and stays findable
// below it in /proc. When redlock's end of the channel closes without a "let go" (redlock was
// killed, even with SIGKILL), it kills every process below it.
//
// It is forked in a constructor, before Swift's main, when `run` is among the arguments:
// then the process is small and single-threaded, so the fork copies few page tables and
// leaves redlock almost no copy-on-write faults (a fork at spawn time, after the Redis
// rounds, cost about 0.7 ms of a 2.5 ms run; exec'ing this binary again cost 1 ms of
// relocations; a thread sharing redlock's memory would die with it under the OOM killer).
// It waits for the spawn request, which redlock writes into memory shared since the fork.

/// Numbers of the processes below the guard, parents before children.
typedef struct {
    pid_t pids[4096];
    int count;
} process_list;

/// Appends the children of every thread of `pid` (from /proc/PID/task/TID/children).
static void add_children(pid_t pid, process_list *list) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    int tasks = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (tasks < 0) return;
    char entries[4096];
    for (;;) {
        long size = syscall(SYS_getdents64, tasks, entries, sizeof entries);
        if (size <= 0) break;
        for (long offset = 0; offset < size;) {
            // struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name.
            unsigned short length;
            memcpy(&length, entries + offset + 16, sizeof length);
            const char *name = entries + offset + 19;
            offset += length;
            if (name[0] < '0' || name[0] > '9') continue;
            char children_path[96];
            snprintf(children_path, sizeof children_path, "/proc/%d/task/%s/children", (int)pid, name);
            int file = open(children_path, O_RDONLY | O_CLOEXEC);
            if (file < 0) continue;
            char text[4096];
            ssize_t got = read(file, text, sizeof text - 1);
            close(file);
            if (got <= 0) continue;
            text[got] = 0;
            for (char *cursor = text; *cursor;) {
                while (*cursor == ' ' || *cursor == '\n') cursor++;
                if (!*cursor) break;
                long child = 0;
                while (*cursor >= '0' && *cursor <= '9') child = child * 10 + (*cursor++ - '0');
                if (child > 0 && list->count < (int)(sizeof list->pids / sizeof list->pids[0])) {
                    list->pids[list->count++] = (pid_t)child;
                }
                while (*cursor && *cursor != ' ' && *cursor != '\n') cursor++;
            }
        }
    }
    close(tasks);
}

/// Processes of the job that refused a signal (EPERM), each told to redlock once.
static process_list refused;
/// The channel to tell redlock on, once COMMAND runs (-1 before, and after a let-go).
static int report_channel = -1;

static void tell(int channel, int kind, int value);

/// A process of the job refused a signal: it set its real user to another than ours (a
/// set-user-ID program that made itself root), and no signal of ours reaches it. redlock
/// is told (once per process), so that it says so rather than let an operator believe it
/// stopped; when redlock is gone, the guard says it on the standard error it inherited.
static void note_refusal(pid_t pid) {
    for (int index = 0; index < refused.count; index++) {
        if (refused.pids[index] == pid) return;
    }
    if (refused.count < (int)(sizeof refused.pids / sizeof refused.pids[0])) refused.pids[refused.count++] = pid;
    if (report_channel >= 0) {
        tell(report_channel, CGUARD_NOT_PERMITTED, pid);
    } else {
        char line[160];
        int length = snprintf(line, sizeof line, "redlock: cannot stop pid %d of the job: not permitted (it runs as another user); it outlives redlock\n", (int)pid);
        if (length > 0) (void)!write(STDERR_FILENO, line, (size_t)length);
    }
}

/// Sends `signal` to every process below the guard; returns how many there were.
static int signal_descendants(int signal) {
    static process_list list;
    list.count = 0;
    add_children(getpid(), &list);
    for (int index = 0; index < list.count; index++) {
        if (kill(list.pids[index], signal) != 0 && errno == EPERM) note_refusal(list.pids[index]);
        add_children(list.pids[index], &list);
    }
    return list.count;
}

/// Kills every process below the guard until none is left (children of killed processes
/// are reparented to the guard, so waiting for them ends only when the job is gone).
static void kill_whole_job(void) {
    for (;;) {
        signal_descendants(SIGKILL);
        if (waitpid(-1, NULL, __WALL) < 0 && errno == ECHILD) return;
    }
}

/// Sends one message on the channel, never raising SIGPIPE; 0, or -1 with errno.
static int send_message(int channel, const cguard_message *message) {
    ssize_t sent;
    do { sent = send(channel, message, sizeof *message, MSG_NOSIGNAL); } while (sent < 0 && errno == EINTR);
    return sent == (ssize_t)sizeof *message ? 0 : -1;
}

static void tell(int channel, int kind, int value) {
    cguard_message message = { .kind = kind, .value = value };
    (void)send_message(channel, &message);
}

/// Starts COMMAND from the guard; tells redlock its pid, or the errno and exits.
static pid_t start_command(int channel, const cspawn_request *request) {
    int exec_errno = 0;
    pid_t command = cspawn(request, &exec_errno);
    if (command < 0 || exec_errno != 0) {
        int error = command < 0 ? errno : exec_errno;
        if (command > 0) waitpid(command, NULL, 0);
        tell(channel, CGUARD_EXEC_FAILED, error ? error : ENOMEM);
        _exit(127);
    }
    tell(channel, CGUARD_STARTED, command);
    return command;
}

static long long boottime_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_BOOTTIME, &now);
    return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

/// poll's timeout until `at` (CLOCK_BOOTTIME ns; 0: none), rounded up to whole milliseconds.
static int milliseconds_until(long long at) {
    if (at == 0) return -1;
    long long left = at - boottime_now();
    if (left <= 0) return 0;
    long long milliseconds = (left + 999999) / 1000000;
    return milliseconds > 1000000000LL ? 1000000000 : (int)milliseconds;
}

/// The guard's work once COMMAND runs: report its end and the job's, obey redlock, and
/// end the job if redlock goes away. Never returns.
///
/// It also keeps the lease's end (CGUARD_KILL_AT, after the spawn and every renewal) and
/// kills the whole job then if no later one came: redlock does that itself, but redlock may
/// be stopped (SIGSTOP, a debugger, a cgroup freezer that took only it) while the job runs
/// on, and COMMAND must not outlive the lease whatever happens to redlock.
static void watch(int channel, int children, pid_t command) {
    report_channel = channel;
    bool command_ended = false;
    bool told_empty = false;
    long long kill_at = 0;
    for (;;) {
        struct pollfd watched[2] = { { .fd = channel, .events = POLLIN }, { .fd = children, .events = POLLIN } };
        int timeout = milliseconds_until(kill_at);
        if (timeout == 0) {
            kill_at = 0;
            // Said only when COMMAND itself was still running, before its end is reported
            // (redlock reads it first): COMMAND's status then comes from this kill. What
            // COMMAND left running is killed all the same, quietly: COMMAND ran under the
            // lock, and its status stands.
            siginfo_t ended = { 0 };
            bool exited_unreaped = waitid(P_PID, (id_t)command, &ended, WEXITED | WNOHANG | WNOWAIT) == 0 && ended.si_pid == command;
            bool running = !command_ended && !exited_unreaped;
            if (running) tell(channel, CGUARD_KILLED_AT_LEASE_END, 1);
            int killed = signal_descendants(SIGKILL) - (exited_unreaped && !command_ended ? 1 : 0);
            // COMMAND had ended, and what it left running was killed: value 2, for redlock to
            // judge by its --leftovers (with `wait`, the lock was being held for them).
            if (!running && killed > 0) tell(channel, CGUARD_KILLED_AT_LEASE_END, 2);
            continue;
        }
        if (poll(watched, 2, timeout) < 0) continue;
        if (watched[1].revents) {
            struct signalfd_siginfo info;
            while (read(children, &info, sizeof info) == sizeof info) {}
            bool command_just_ended = false;
            int command_status = 0;
            pid_t ended;
            int status;
            while ((ended = waitpid(-1, &status, WNOHANG | WUNTRACED | __WALL)) > 0) {
                if (WIFSTOPPED(status)) {
                    // Ctrl-Z, or a background read of the terminal: redlock stops too.
                    if (ended == command) tell(channel, CGUARD_STOPPED, WSTOPSIG(status));
                    continue;
                }
                if (ended == command) {
                    command_ended = command_just_ended = true;
                    command_status = status;
                }
            }
            bool empty = ended < 0 && errno == ECHILD;
            if (command_just_ended) {
                // One message when COMMAND was the last, so redlock never mistakes the
                // moment between two messages for leftovers.
                tell(channel, empty ? CGUARD_EXITED_LAST : CGUARD_EXITED, command_status);
                told_empty = empty;
            } else if (empty && command_ended && !told_empty) {
                told_empty = true;
                tell(channel, CGUARD_EMPTY, 0);
            }
        }
        if (watched[0].revents) {
            cguard_message message;
            ssize_t got = recv(channel, &message, sizeof message, 0);
            if (got < 0 && errno == EINTR) continue;
            if (got != (ssize_t)sizeof message) {
                // redlock is gone without letting go: the job must not outlive it.
                report_channel = -1;
                kill_whole_job();
                _exit(0);
            }
            if (message.kind == CGUARD_SIGNAL_ALL) {
                signal_descendants(message.value);
            } else if (message.kind == CGUARD_KILL_AT) {
                kill_at = message.at;
            } else if (message.kind == CGUARD_LET_GO) {
                _exit(0);
            }
        }
    }
}

/// Becomes the guard in a forked child: subreaper, every signal blocked (the fork left them
/// so), SIGCHLD through a signalfd.
static int become_guard(void) {
    prctl(PR_SET_NAME, "redlock-guard");
    // A group of its own: `kill -9 -PGID` of redlock's group (a shell's `kill -9 %1`) must
    // not take the guard along, or nothing would be left to end the rest of the job.
    setpgid(0, 0);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    sigset_t child_signal;
    sigemptyset(&child_signal);
    sigaddset(&child_signal, SIGCHLD);
    return signalfd(-1, &child_signal, SFD_CLOEXEC | SFD_NONBLOCK);
}

/// The spawn request, in memory shared between redlock and its early guard. Pointers in it
/// are valid in both: the mapping was made before the fork, at the same address.
typedef struct {
    cspawn_request request;
    sigset_t mask;
    char *strings[];
} shared_request;

static const size_t shared_size = 16 << 20;  // reserved, not allocated: MAP_NORESERVE
static shared_request *shared;
static int early_channel = -1;
static pid_t early_guard = -1;

/// The early guard, before COMMAND: waits for the spawn request; exits when redlock goes
/// without one (the lock was busy, a usage error). Never returns.
static void wait_for_request(int channel) {
    int children = become_guard();
    for (;;) {
        cguard_message message;
        ssize_t got = recv(channel, &message, sizeof message, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got != (ssize_t)sizeof message || message.kind != CGUARD_SPAWN || children < 0) _exit(0);
        shared->request.child_mask = &shared->mask;
        // Forked in a constructor, before the Swift runtime or redlock installed any signal
        // handler: the child has none to reset on COMMAND's way to exec.
        shared->request.may_have_handlers = 0;
        pid_t command = start_command(channel, &shared->request);
        watch(channel, children, command);
    }
}

/// Whether this run of the binary may spawn COMMAND: `run` is one of its arguments (a key or
/// option value that happens to be "run" costs an idle guard, nothing more).
static bool may_run_command(int argc, char **argv) {
    for (int index = 1; index < argc; index++) {
        if (strcmp(argv[index], "run") == 0) return true;
    }
    return false;
}

__attribute__((constructor)) static void fork_guard_early(int argc, char **argv, char **envp) {
    (void)envp;
    if (argv == NULL || !may_run_command(argc, argv)) return;
    int channel[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0) return;
    void *memory = mmap(NULL, shared_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) {
        close(channel[0]);
        close(channel[1]);
        return;
    }
    shared = memory;
    sigset_t all, previous;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &previous);
    pid_t guard_pid = fork();
    if (guard_pid == 0) {
        close(channel[0]);
        wait_for_request(channel[1]);
    }
    sigprocmask(SIG_SETMASK, &previous, NULL);
    close(channel[1]);
    if (guard_pid < 0) {
        close(channel[0]);
        munmap(memory, shared_size);
        shared = NULL;
        return;
    }
    early_channel = channel[0];
    early_guard = guard_pid;
}

/// Room kept in the shared pointer array for the variables added after a preparation.
enum { added_variables_room = 8 };

/// Where a preparation left off: the next environment slot and the next free byte
/// (slot NULL: nothing prepared).
static char **prepared_slot;
static char *prepared_cursor;

/// Copies the strings of `strings` (NULL-terminated) to `*cursor`, their pointers to
/// `*out`; false when they do not fit before `limit`.
static bool copy_strings(char *const *strings, char ***out, char **cursor, const char *limit) {
    for (size_t index = 0; strings[index] != NULL; index++) {
        size_t length = strlen(strings[index]) + 1;
        if ((size_t)(limit - *cursor) < length) return false;
        memcpy(*cursor, strings[index], length);
        *(*out)++ = *cursor;
        *cursor += length;
    }
    return true;
}

/// Copies `request`'s arguments and environment into the shared memory, with room for
/// `room` more variables; leaves the next slot and byte in `prepared_slot` and
/// `prepared_cursor`. False when it does not fit (E2BIG).
static bool share_strings(const cspawn_request *request, size_t room) {
    size_t arguments = 0, variables = 0;
    while (request->argv[arguments] != NULL) arguments++;
    while (request->envp[variables] != NULL) variables++;
    size_t pointers = arguments + 1 + variables + room + 1;
    if (pointers > (shared_size - sizeof(shared_request)) / sizeof(char *)) return false;
    char *cursor = (char *)&shared->strings[pointers];
    const char *limit = (char *)shared + shared_size;
    char **out = shared->strings;
    if (!copy_strings(request->argv, &out, &cursor, limit)) return false;
    *out++ = NULL;
    shared->request.argv = shared->strings;
    shared->request.file = shared->strings[0];
    shared->request.envp = out;
    if (!copy_strings(request->envp, &out, &cursor, limit)) return false;
    *out = NULL;
    prepared_slot = out;
    prepared_cursor = cursor;
    return true;
}

/// Fills in the rest of the request (everything but the strings) in the shared memory.
static void share_settings(const cspawn_request *request) {
    char *const *argv = shared->request.argv, *const *envp = shared->request.envp;
    const char *file = shared->request.file;
    shared->request = *request;
    shared->request.argv = (char **)argv;
    shared->request.envp = (char **)envp;
    shared->request.file = file;
    shared->mask = *request->child_mask;
}

/// Copies `request` into the shared memory; false when it does not fit (E2BIG).
static bool share_request(const cspawn_request *request) {
    bool shared_whole = share_strings(request, 0);
    prepared_slot = NULL;
    if (!shared_whole) return false;
    share_settings(request);
    return true;
}

int cguard_prepare(char *const argv[], char *const envp[]) {
    // One preparation per process: a second one spoils the first, so a caller holding the
    // first cannot start COMMAND with the second one's strings.
    static bool prepared_before;
    if (prepared_before) {
        prepared_slot = NULL;
        return -1;
    }
    prepared_before = true;
    if (early_channel < 0 || argv == NULL || argv[0] == NULL) return -1;
    cspawn_request request = { .argv = (char **)argv, .envp = (char **)envp };
    if (!share_strings(&request, added_variables_room)) {
        prepared_slot = NULL;
        return -1;
    }
    return 0;
}

/// Appends `added` (NULL-terminated) to the prepared environment; false when it does not fit.
static bool add_prepared_variables(char *const added[]) {
    size_t count = 0;
    while (added[count] != NULL) count++;
    if (prepared_slot == NULL || count > added_variables_room) return false;
    char **out = prepared_slot;
    if (!copy_strings(added, &out, &prepared_cursor, (char *)shared + shared_size)) return false;
    *out = NULL;
    prepared_slot = NULL;
    return true;
}

/// The fallback when no early guard was forked (the binary was not started with `run`, or
/// the fork failed): fork now. The child closes what exec would have closed (redlock's own
/// descriptors), keeping what COMMAND should inherit.
static pid_t fork_guard_now(const cspawn_request *request, int channel[2]) {
    sigset_t all, previous;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &previous);
    pid_t guard_pid = fork();
    if (guard_pid == 0) {
        for (int fd = 3; fd < 4096; fd++) {
            if (fd == channel[1]) continue;
            int flags = fcntl(fd, F_GETFD);
            if (flags >= 0 && (flags & FD_CLOEXEC)) close(fd);
        }
        int children = become_guard();
        if (children < 0) {
            tell(channel[1], CGUARD_EXEC_FAILED, errno);
            _exit(127);
        }
        pid_t command = start_command(channel[1], request);
        watch(channel[1], children, command);
    }
    int fork_errno = errno;
    sigprocmask(SIG_SETMASK, &previous, NULL);
    errno = fork_errno;
    return guard_pid;
}

int cguard_start(const cspawn_request *request, char *const added[], cguard_job *job, int *exec_errno) {
    *exec_errno = 0;
    int channel;
    pid_t guard_pid;
    // Not prepared, or too much added: the caller starts over with everything.
    if (added != NULL && (early_channel < 0 || !add_prepared_variables(added))) return -2;
    if (early_channel >= 0) {
        channel = early_channel;
        guard_pid = early_guard;
        early_channel = -1;
        if (added != NULL) share_settings(request);
        if (added == NULL && !share_request(request)) {
            close(channel);
            while (waitpid(guard_pid, NULL, 0) < 0 && errno == EINTR) {}
            *exec_errno = E2BIG;
            job->guard = guard_pid;
            job->command = -1;
            job->channel = -1;
            return 0;
        }
        cguard_tell(channel, CGUARD_SPAWN, 0);
    } else {
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return -1;
        guard_pid = fork_guard_now(request, pair);
        int fork_errno = errno;
        close(pair[1]);
        if (guard_pid < 0) {
            close(pair[0]);
            errno = fork_errno;
            return -1;
        }
        channel = pair[0];
    }
    cguard_message message;
    ssize_t got;
    do { got = recv(channel, &message, sizeof message, 0); } while (got < 0 && errno == EINTR);
    if (got != (ssize_t)sizeof message || message.kind != CGUARD_STARTED) {
        bool failed_exec = got == (ssize_t)sizeof message && message.kind == CGUARD_EXEC_FAILED;
        close(channel);
        while (waitpid(guard_pid, NULL, 0) < 0 && errno == EINTR) {}
        if (failed_exec) {
            *exec_errno = message.value;
            job->guard = guard_pid;
            job->command = -1;
            job->channel = -1;
            return 0;
        }
        errno = EIO;
        return -1;
    }
    job->guard = guard_pid;
    job->command = message.value;
    job->channel = channel;
    return 0;
}

int cguard_tell(int channel, int kind, int value) {
    cguard_message message = { .kind = kind, .value = value };
    return send_message(channel, &message);
}

int cguard_tell_kill_at(int channel, long long boottime_nanoseconds) {
    cguard_message message = { .kind = CGUARD_KILL_AT, .at = boottime_nanoseconds };
    return send_message(channel, &message);
}

int cguard_hear(int channel, cguard_message *message) {
    ssize_t got;
    do { got = recv(channel, message, sizeof *message, MSG_DONTWAIT); } while (got < 0 && errno == EINTR);
    if (got == (ssize_t)sizeof *message) return 1;
    if (got == 0) return 0;
    if (got > 0) errno = EPROTO;
    return -1;
}
