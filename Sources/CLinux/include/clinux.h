#ifndef REDLOCK_CLINUX_H
#define REDLOCK_CLINUX_H

// Linux interfaces that Swift's Glibc module does not export (signalfd, getrandom), and
// fork + exec with a parent-death signal: posix_spawn cannot set PR_SET_PDEATHSIG, and
// nothing between fork and exec may run Swift code.
#include <signal.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/types.h>

/// What the child needs set up between fork and exec. Everything here is done in C because
/// nothing between fork and exec may allocate or run Swift code.
typedef struct {
    /// COMMAND's name, looked up in PATH like execvp does when it has no slash.
    const char *file;
    /// NULL-terminated argument vector; argv[0] is COMMAND's name.
    char *const *argv;
    /// NULL-terminated environment for COMMAND.
    char *const *envp;
    /// A terminal whose foreground process group becomes the child's group, or -1.
    int foreground_tty;
    /// Delivered to the child when the thread that forked it dies (PR_SET_PDEATHSIG), or 0.
    int parent_death_signal;
    /// The signal mask the child starts COMMAND with (redlock blocks the signals it forwards).
    const sigset_t *child_mask;
} cspawn_request;

/// Forks and execs `request`. The child gets its own process group (and, when asked, the
/// terminal). Returns the child's pid, or -1 with errno set when fork failed. When the child
/// could not exec COMMAND, *exec_errno is that errno and the child has already exited with
/// status 127 (the caller still reaps it); otherwise *exec_errno is 0.
pid_t cspawn(const cspawn_request *request, int *exec_errno);

#endif
