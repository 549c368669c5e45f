#define _GNU_SOURCE
#include "clinux.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

/// What the child shares with the parent: with CLONE_VM it writes its exec errno here, and
/// CLONE_VFORK keeps the parent from reading it before the child has exec'd or exited.
typedef struct {
    const cspawn_request *request;
    pid_t parent;
    volatile int exec_errno;
} child_context;

/// The child between clone and exec. It shares the parent's memory, so it calls only
/// async-signal-safe functions and writes nothing but `exec_errno`.
static int become_command(void *argument) {
    child_context *context = argument;
    const cspawn_request *request = context->request;
    // A handler of the parent's would run on the parent's memory: back to defaults first
    // (every signal is blocked until the mask is set below).
    for (int signal = 1; request->may_have_handlers && signal < NSIG; signal++) {
        struct sigaction action;
        if (sigaction(signal, NULL, &action) != 0) continue;
        if (action.sa_handler == SIG_DFL || action.sa_handler == SIG_IGN) continue;
        action.sa_handler = SIG_DFL;
        action.sa_flags = 0;
        sigaction(signal, &action, NULL);
    }
    setpgid(0, 0);
    if (request->foreground_tty >= 0) {
        // Outside the terminal's foreground group, tcsetpgrp raises SIGTTOU unless it is
        // blocked; it is (the parent blocked everything around clone).
        tcsetpgrp(request->foreground_tty, getpid());
    }
    if (request->parent_death_signal > 0) {
        if (prctl(PR_SET_PDEATHSIG, request->parent_death_signal) != 0) {
            context->exec_errno = errno;
            _exit(127);
        }
        // The parent may have died before prctl took effect: then nobody would ever signal us.
        if (getppid() != context->parent) {
            _exit(128 + request->parent_death_signal);
        }
    }
    sigprocmask(SIG_SETMASK, request->child_mask, NULL);
    execvpe(request->file, request->argv, request->envp);
    context->exec_errno = errno;
    _exit(127);
}

/// Room for execvpe, which builds each PATH candidate and, for a script without `#!`, a
/// new argument vector on the stack.
static size_t child_stack_size(const cspawn_request *request) {
    size_t arguments = 0;
    while (request->argv[arguments] != NULL) arguments++;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = 64 * 1024 + 2 * 4096 + (arguments + 2) * sizeof(char *);
    return (size + page - 1) / page * page;
}

pid_t cspawn(const cspawn_request *request, int *exec_errno) {
    *exec_errno = 0;
    size_t stack_size = child_stack_size(request);
    void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (stack == MAP_FAILED) return -1;

    child_context context = { .request = request, .parent = getpid(), .exec_errno = 0 };
    sigset_t all, previous;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &previous);
    // CLONE_VM | CLONE_VFORK, as posix_spawn does: no copy of redlock's page tables, and
    // this thread waits until COMMAND has replaced the child (or the child gave up).
    pid_t child = clone(become_command, (char *)stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &context);
    int clone_errno = errno;
    sigprocmask(SIG_SETMASK, &previous, NULL);
    munmap(stack, stack_size);
    if (child < 0) {
        errno = clone_errno;
        return -1;
    }
    *exec_errno = context.exec_errno;
    return child;
}
