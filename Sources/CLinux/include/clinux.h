#ifndef REDLOCK_CLINUX_H
#define REDLOCK_CLINUX_H

// Linux interfaces that Swift's Glibc module does not export (signalfd, getrandom), and
// spawning with a parent-death signal: posix_spawn cannot set PR_SET_PDEATHSIG, and
// nothing between clone and exec may run Swift code.
#include <signal.h>
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
} cspawn_request;

/// Starts `request` the way posix_spawn does (clone with CLONE_VM | CLONE_VFORK: no copy of
/// the parent's page tables, which fork would make only for exec to throw away). The child
/// gets its own process group (and, when asked, the terminal). Returns the child's pid, or
/// -1 with errno set when clone failed. When the child could not exec COMMAND, *exec_errno
/// is that errno and the child has already exited with status 127 (the caller still reaps
/// it); otherwise *exec_errno is 0.
pid_t cspawn(const cspawn_request *request, int *exec_errno);

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

#endif
