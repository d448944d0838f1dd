/*
 * shm_open() and sem_open(): a process killed by a signal cannot unlink what
 * it created in /dev/shm (multiprocessing's shared_memory and semaphores,
 * PyTorch's file_system sharing), and that memory stays taken until reboot.
 * Under `orphanguard run --clean-shm` (or --log) the launcher names a registry
 * file (ORPHANGUARD_SHM_REGISTRY); each successful call with O_CREAT appends
 * the name there, one line with one write() to a file opened O_APPEND, so the
 * launcher can report, or remove, the job's own names left at its end. Without
 * a registry both calls only call through.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <unistd.h>

#include "og.h"

/* Appends "<kind> <uid> <name>\n" (name without its leading '/'); keeps errno. */
static void register_name(const char *kind, const char *name)
{
    const char *registry = og_active() ? og_config_shm_registry(og_config()) : NULL;
    if (!registry || !name)
        return;
    int saved = errno;
    while (*name == '/')
        name++;
    char line[320];
    size_t n = 0;
    for (const char *k = kind; *k && n < 8;)
        line[n++] = *k++;
    line[n++] = ' ';
    n += og_format_uint(line + n, (unsigned long long)getuid());
    line[n++] = ' ';
    for (; *name && n < sizeof(line) - 2; name++)
        line[n++] = *name == '\n' ? '?' : *name;
    line[n++] = '\n';
    int fd = open(registry, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd >= 0) {
        ssize_t wrote = write(fd, line, n);
        (void)wrote; /* a registry that cannot be written is the launcher's to notice */
        close(fd);
    }
    errno = saved;
}

__attribute__((visibility("default"))) int shm_open(const char *name, int oflag, mode_t mode)
{
    static void *next;
    int (*real)(const char *, int, mode_t) = (int (*)(const char *, int, mode_t))og_next(&next, "shm_open");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    int fd = real(name, oflag, mode);
    if (fd >= 0 && (oflag & O_CREAT))
        register_name("shm", name);
    return fd;
}

__attribute__((visibility("default"))) sem_t *sem_open(const char *name, int oflag, ...)
{
    static void *next;
    sem_t *(*real)(const char *, int, ...) = (sem_t * (*)(const char *, int, ...)) og_next(&next, "sem_open");
    if (!real) {
        errno = ENOSYS;
        return SEM_FAILED;
    }
    if (!(oflag & O_CREAT))
        return real(name, oflag);
    va_list args;
    va_start(args, oflag);
    mode_t mode = va_arg(args, mode_t);
    unsigned int value = va_arg(args, unsigned int);
    va_end(args);
    sem_t *sem = real(name, oflag, mode, value);
    if (sem != SEM_FAILED)
        register_name("sem", name);
    return sem;
}
