#ifndef REDLOCK_CLINUX_H
#define REDLOCK_CLINUX_H

// Linux interfaces that Swift's Glibc module does not export (signalfd, getrandom), and
// spawning with a parent-death signal: posix_spawn cannot set PR_SET_PDEATHSIG, and
// nothing between clone and exec may run Swift code.
#include <signal.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/types.h>

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
} cspawn_request;

/// Starts `request` the way posix_spawn does (clone with CLONE_VM | CLONE_VFORK: no copy of
/// the parent's page tables, which fork would make only for exec to throw away). The child
/// gets its own process group (and, when asked, the terminal). Returns the child's pid, or
/// -1 with errno set when clone failed. When the child could not exec COMMAND, *exec_errno
/// is that errno and the child has already exited with status 127 (the caller still reaps
/// it); otherwise *exec_errno is 0.
pid_t cspawn(const cspawn_request *request, int *exec_errno);

#endif
