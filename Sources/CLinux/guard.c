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
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// The guard: a small process between redlock and COMMAND that keeps the whole job together.
// It is a child subreaper, so every process of the job that loses its parent (a daemon, a
// setsid'd helper, a grandchild whose parent exited) becomes its child and stays findable
// below it in /proc. When redlock's end of the channel closes without a "let go" (redlock was
// killed, even with SIGKILL), it kills every process below it. It runs only C, on its own
// stack and descriptors, and never allocates: it is a fork of a possibly multithreaded
// process.

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

/// Sends `signal` to every process below the guard; returns how many there were.
static int signal_descendants(int signal) {
    static process_list list;
    list.count = 0;
    add_children(getpid(), &list);
    for (int index = 0; index < list.count; index++) {
        kill(list.pids[index], signal);
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

static void tell(int channel, int kind, int value) {
    cguard_message message = { .kind = kind, .value = value };
    while (send(channel, &message, sizeof message, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
}

/// The guard's life, in the forked child. Never returns.
static void guard(int channel, const cspawn_request *request) {
    // Only the channel and the standard descriptors: redlock's Redis sockets and its signal
    // descriptor must close when redlock closes them.
    if (channel != 3) {
        dup2(channel, 3);
        channel = 3;
    }
    if (close_range(4, ~0U, 0) != 0) {
        for (int fd = 4; fd < 1024; fd++) close(fd);
    }
    prctl(PR_SET_NAME, "redlock-guard");
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    // Every signal stays blocked (as cguard_start left it): the guard ends only when
    // redlock is done with it, or by SIGKILL. SIGCHLD is read from a signalfd.
    sigset_t child_signal;
    sigemptyset(&child_signal);
    sigaddset(&child_signal, SIGCHLD);
    int children = signalfd(-1, &child_signal, SFD_CLOEXEC | SFD_NONBLOCK);

    int exec_errno = 0;
    pid_t command = cspawn(request, &exec_errno);
    if (command < 0 || exec_errno != 0 || children < 0) {
        int error = command < 0 || children < 0 ? errno : exec_errno;
        if (command > 0) waitpid(command, NULL, 0);
        tell(channel, CGUARD_EXEC_FAILED, error ? error : ENOMEM);
        _exit(127);
    }
    tell(channel, CGUARD_STARTED, command);

    bool command_ended = false;
    bool told_empty = false;
    for (;;) {
        struct pollfd watched[2] = { { .fd = channel, .events = POLLIN }, { .fd = children, .events = POLLIN } };
        if (poll(watched, 2, -1) < 0) continue;
        if (watched[1].revents) {
            struct signalfd_siginfo info;
            while (read(children, &info, sizeof info) == sizeof info) {}
            bool command_just_ended = false;
            int command_status = 0;
            pid_t ended;
            int status;
            while ((ended = waitpid(-1, &status, WNOHANG | __WALL)) > 0) {
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
                kill_whole_job();
                _exit(0);
            }
            if (message.kind == CGUARD_SIGNAL_ALL) {
                signal_descendants(message.value);
            } else if (message.kind == CGUARD_LET_GO) {
                _exit(0);
            }
        }
    }
}

int cguard_start(const cspawn_request *request, cguard_job *job, int *exec_errno) {
    *exec_errno = 0;
    int channel[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0) return -1;
    sigset_t all, previous;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &previous);
    // fork, not _Fork: glibc then leaves malloc and stdio usable in the child even if another
    // thread held their locks (the guard does not use them, snprintf aside, but cspawn's
    // mmap and the kernel interfaces are all it needs).
    pid_t guard_pid = fork();
    if (guard_pid == 0) {
        close(channel[0]);
        guard(channel[1], request);
    }
    int fork_errno = errno;
    sigprocmask(SIG_SETMASK, &previous, NULL);
    close(channel[1]);
    if (guard_pid < 0) {
        close(channel[0]);
        errno = fork_errno;
        return -1;
    }
    cguard_message message;
    ssize_t got;
    do { got = recv(channel[0], &message, sizeof message, 0); } while (got < 0 && errno == EINTR);
    if (got != (ssize_t)sizeof message || message.kind != CGUARD_STARTED) {
        int error = got == (ssize_t)sizeof message && message.kind == CGUARD_EXEC_FAILED ? message.value : EIO;
        close(channel[0]);
        while (waitpid(guard_pid, NULL, 0) < 0 && errno == EINTR) {}
        if (got == (ssize_t)sizeof message && message.kind == CGUARD_EXEC_FAILED) {
            *exec_errno = error;
            job->guard = guard_pid;
            job->command = -1;
            job->channel = -1;
            return 0;
        }
        errno = error;
        return -1;
    }
    job->guard = guard_pid;
    job->command = message.value;
    job->channel = channel[0];
    return 0;
}

int cguard_tell(int channel, int kind, int value) {
    cguard_message message = { .kind = kind, .value = value };
    ssize_t sent;
    do { sent = send(channel, &message, sizeof message, MSG_NOSIGNAL); } while (sent < 0 && errno == EINTR);
    return sent == (ssize_t)sizeof message ? 0 : -1;
}

int cguard_hear(int channel, cguard_message *message) {
    ssize_t got;
    do { got = recv(channel, message, sizeof *message, MSG_DONTWAIT); } while (got < 0 && errno == EINTR);
    if (got == (ssize_t)sizeof *message) return 1;
    if (got == 0) return 0;
    if (got > 0) errno = EPROTO;
    return -1;
}
