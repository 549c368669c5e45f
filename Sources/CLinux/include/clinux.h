#ifndef REDLOCK_CLINUX_H
#define REDLOCK_CLINUX_H

// Linux interfaces that Swift's Glibc module does not export (signalfd, getrandom), and
// spawning with a parent-death signal: posix_spawn cannot set PR_SET_PDEATHSIG, and
// nothing between clone and exec may run Swift code.
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <netdb.h>
#include <sys/socket.h>

/// What the child needs set up between clone and exec. Everything here is done in C because
/// nothing between clone and exec may allocate or run Swift code.
typedef struct {
    /// COMMAND's name, looked up in PATH like execvp does when it has no slash.
    const char *file;
    /// NULL-terminated argument vector; argv[0] is COMMAND's name.
    char *const *argv;
    /// NULL-terminated environment for COMMAND.
    char *const *envp;
    /// A terminal whose foreground process group becomes the child's group, or -1.
    int foreground_tty;
    /// Delivered to the child when the thread that started it dies (PR_SET_PDEATHSIG), or 0.
    int parent_death_signal;
    /// The signal mask the child starts COMMAND with (redlock blocks the signals it forwards).
    const sigset_t *child_mask;
    /// Nonzero when the spawning process may have signal handlers installed: the child then
    /// puts each back to the default before exec (64 sigaction calls). The early guard was
    /// forked before anything installed one, and clears it.
    int may_have_handlers;
} cspawn_request;

/// Starts `request` the way posix_spawn does (clone with CLONE_VM | CLONE_VFORK: no copy of
/// the parent's page tables, which fork would make only for exec to throw away). The child
/// gets its own process group (and, when asked, the terminal). Returns the child's pid, or
/// -1 with errno set when clone failed. When the child could not exec COMMAND, *exec_errno
/// is that errno and the child has already exited with status 127 (the caller still reaps
/// it); otherwise *exec_errno is 0.
pid_t cspawn(const cspawn_request *request, int *exec_errno);

/// A job under a guard: the guard process (redlock's child, a child subreaper) and COMMAND
/// (the guard's child, started as cspawn starts it), with redlock's end of their channel.
typedef struct {
    pid_t guard;
    pid_t command;
    int channel;
} cguard_job;

/// One message on the channel (a SOCK_SEQPACKET socket: one message, one datagram).
typedef struct {
    int kind;
    int value;
    /// CGUARD_KILL_AT only: a moment on CLOCK_BOOTTIME, in nanoseconds.
    long long at;
} cguard_message;

/// Guard to redlock: COMMAND runs, value = its pid (the answer to cguard_start).
#define CGUARD_STARTED 1
/// Guard to redlock: COMMAND could not be started, value = errno; the guard exits.
#define CGUARD_EXEC_FAILED 2
/// Guard to redlock: COMMAND ended, value = its wait status.
#define CGUARD_EXITED 3
/// Guard to redlock: COMMAND ended, value = its wait status, and no process of the job is left.
#define CGUARD_EXITED_LAST 5
/// Guard to redlock: COMMAND was stopped (job control), value = the stop signal.
#define CGUARD_STOPPED 6
/// Guard to redlock: COMMAND has ended and no process of the job is left.
#define CGUARD_EMPTY 4
/// Guard to redlock: the lease ended (CGUARD_KILL_AT) and the guard killed the job: value 1
/// when COMMAND itself was running, 2 when only processes it left behind were.
#define CGUARD_KILLED_AT_LEASE_END 7
/// Guard to redlock: process `value` of the job refused a signal (EPERM: it changed its
/// real user, as a set-user-ID program may). Once per process.
#define CGUARD_NOT_PERMITTED 8
/// Redlock to guard: send signal `value` to every process of the job.
#define CGUARD_SIGNAL_ALL 10
/// Redlock to guard: exit now and leave whatever still runs alone. Without this message,
/// a closed channel means redlock died, and the guard kills the whole job.
#define CGUARD_LET_GO 11
/// Redlock to its early guard: the spawn request is in the shared memory; start COMMAND.
#define CGUARD_SPAWN 12
/// Redlock (or its keeper) to guard: the lease ends at `at`; should it come with no later
/// one, SIGKILL every process of the job then (redlock itself may be stopped).
#define CGUARD_KILL_AT 13

/// Has the guard start `request` as its child: the guard forked before main when `run` was
/// among the arguments, else one forked now. Returns 0 with `job` filled in, or
/// -1 with errno set when the guard could not be started. When COMMAND could not be
/// exec'd, *exec_errno says why, the guard has been reaped and job->channel is -1.
///
/// `added`: when not NULL and the arguments and environment were prepared
/// (cguard_prepare), the variables to add to the prepared environment; `request`'s own
/// argv and envp are then not copied (they must be the prepared ones plus `added`). When
/// nothing was prepared (or `added` does not fit), it returns -2 without starting anything
/// (a preparation is spoiled then): call it again with the whole request and `added` NULL.
int cguard_start(const cspawn_request *request, char *const added[], cguard_job *job, int *exec_errno);

/// Copies COMMAND's arguments and environment for the early guard ahead of time (while
/// redlock waits for the lock), so that starting it then copies only what the lock added.
/// Returns 0, or -1 when there is no early guard, it does not fit, or it was called before
/// (one preparation per process; a second call spoils the first). cguard_start then copies
/// everything, as without it.
int cguard_prepare(char *const argv[], char *const envp[]);

/// Sends one message to the guard (never raising SIGPIPE); -1 with errno when it failed.
int cguard_tell(int channel, int kind, int value);

/// Tells the guard the moment the lease ends (CGUARD_KILL_AT); -1 with errno when it failed.
int cguard_tell_kill_at(int channel, long long boottime_nanoseconds);

/// Reads one message without waiting: 1 with *message filled in, 0 when the guard has
/// closed the channel (it is gone), -1 with errno (EAGAIN: nothing yet).
int cguard_hear(int channel, cguard_message *message);

/// A host name being looked up with getaddrinfo on a thread of its own, so that a resolver
/// that does not answer costs the caller no more than its own deadline: it polls the
/// lookup's descriptor with its other sockets, and may give up at any time.
typedef struct clinux_lookup clinux_lookup;

/// What `clinux_lookup_result` returns while the thread is still at work.
#define CLINUX_LOOKUP_PENDING 1000

/// Starts looking up `host` for a TCP connection to `port`. Returns NULL with errno set
/// when the thread could not be started.
clinux_lookup *clinux_lookup_start(const char *host, const char *port);

/// Becomes readable when the lookup has finished, and stays readable: several callers may
/// wait on one lookup.
int clinux_lookup_descriptor(const clinux_lookup *lookup);

/// 0 with the first address found; getaddrinfo's EAI_ code when it failed (with EAI_SYSTEM,
/// *system_errno says why); CLINUX_LOOKUP_PENDING before the lookup has finished. It may be
/// asked any number of times.
int clinux_lookup_result(clinux_lookup *lookup, struct sockaddr_storage *address, socklen_t *length, int *family, int *system_errno);

/// Lets go of the lookup, finished or not (an unfinished one frees itself when its thread
/// is done). Its descriptor must not be used afterwards.
void clinux_lookup_release(clinux_lookup *lookup);

/// ppoll without a signal mask: poll with a timeout in nanoseconds, not whole milliseconds.
/// (A _GNU_SOURCE interface, which Swift's Glibc module does not export.)
int clinux_ppoll(struct pollfd *fds, nfds_t count, const struct timespec *timeout);

#endif
