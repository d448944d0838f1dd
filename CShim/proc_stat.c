/*
 * The one reader of /proc/PID/stat. Async-signal-safe (a vfork child and the
 * watcher thread use it): no allocation, no stdio.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "include/og_core.h"

size_t og_format_uint(char *out, unsigned long long value)
{
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    for (size_t i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    return n;
}

const char *og_stat_read(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    ssize_t got;
    do
        got = read(fd, buf, len - 1);
    while (got < 0 && errno == EINTR);
    close(fd);
    if (got <= 0)
        return NULL;
    buf[got] = '\0';
    /* comm may hold spaces and parentheses: fields restart after the last ')'. */
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] ? p + 2 : NULL;
}

bool og_stat_field(const char *fields, int n, unsigned long long *value)
{
    for (int field = 3; field < n; fields++) {
        if (!*fields)
            return false;
        if (*fields == ' ')
            field++;
    }
    if (*fields < '0' || *fields > '9')
        return false;
    *value = 0;
    for (; *fields >= '0' && *fields <= '9'; fields++)
        *value = *value * 10 + (unsigned)(*fields - '0');
    return true;
}

bool og_proc_stat(pid_t pid, char *state, unsigned long long *start)
{
    char path[40] = "/proc/";
    size_t len = 6 + og_format_uint(path + 6, (unsigned long long)pid);
    memcpy(path + len, "/stat", 6);
    char buf[1024];
    const char *fields = og_stat_read(path, buf, sizeof(buf));
    if (!fields || !og_stat_field(fields, 22, start))
        return false;
    *state = fields[0];
    return true;
}
