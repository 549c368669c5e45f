#define _GNU_SOURCE
#include "clinux.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

/// Writes the whole of errno to the parent's pipe; the child has nothing better to do on failure.
static void report_errno_and_exit(int fd, int error) {
    const char *bytes = (const char *)&error;
    size_t left = sizeof error;
    while (left > 0) {
        ssize_t n = write(fd, bytes, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        bytes += n;
        left -= (size_t)n;
    }
    _exit(127);
}

/// The child between fork and exec: only async-signal-safe calls.
static void become_command(const cspawn_request *request, pid_t parent, int report_fd) {
    setpgid(0, 0);
    if (request->foreground_tty >= 0) {
        // A process outside the terminal's foreground group gets SIGTTOU from tcsetpgrp
        // unless that signal is blocked; the parent's mask (which blocks it) is still ours.
        sigset_t ttou;
        sigemptyset(&ttou);
        sigaddset(&ttou, SIGTTOU);
        sigprocmask(SIG_BLOCK, &ttou, NULL);
        tcsetpgrp(request->foreground_tty, getpid());
    }
    if (request->parent_death_signal > 0) {
        if (prctl(PR_SET_PDEATHSIG, request->parent_death_signal) != 0) {
            report_errno_and_exit(report_fd, errno);
        }
        // The parent may have died before prctl took effect: then nobody would ever signal us.
        if (getppid() != parent) {
            _exit(128 + request->parent_death_signal);
        }
    }
    sigprocmask(SIG_SETMASK, request->child_mask, NULL);
    execvpe(request->file, request->argv, request->envp);
    report_errno_and_exit(report_fd, errno);
}

pid_t cspawn(const cspawn_request *request, int *exec_errno) {
    *exec_errno = 0;
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -1;
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) {
        int saved = errno;
        close(report[0]);
        close(report[1]);
        errno = saved;
        return -1;
    }
    if (child == 0) {
        close(report[0]);
        become_command(request, parent, report[1]);
    }
    close(report[1]);
    // Also from the parent, so that the group exists whichever of the two runs first.
    setpgid(child, child);
    if (request->foreground_tty >= 0) tcsetpgrp(request->foreground_tty, child);

    // The pipe closes on a successful exec (O_CLOEXEC), or carries the exec errno.
    int error = 0;
    size_t got = 0;
    while (got < sizeof error) {
        ssize_t n = read(report[0], ((char *)&error) + got, sizeof error - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(report[0]);
    if (got == sizeof error) *exec_errno = error;
    return child;
}
