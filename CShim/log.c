/*
 * The library's only output: single lines on stderr, written with one write(2)
 * so lines from many processes do not interleave. Nothing is printed unless the
 * library acts, warns about a bad setting, or ORPHANGUARD_VERBOSE=1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "og.h"

static void write_line(const char *fmt, va_list args)
{
    char line[512];
    int saved_errno = errno;
    int len = snprintf(line, sizeof(line), "orphanguard: ");
    int body = vsnprintf(line + len, sizeof(line) - len - 1, fmt, args);
    if (body < 0)
        body = 0;
    len += (size_t)body < sizeof(line) - len - 1 ? body : (int)(sizeof(line) - len - 2);
    line[len++] = '\n';
    /* A closed or full stderr is not our problem to report. */
    while (write(STDERR_FILENO, line, len) < 0 && errno == EINTR)
        ;
    errno = saved_errno;
}

void og_log(const char *fmt, ...)
{
    if (og_config()->quiet)
        return;
    va_list args;
    va_start(args, fmt);
    write_line(fmt, args);
    va_end(args);
}

void og_debug(const char *fmt, ...)
{
    if (!og_config()->verbose || og_config()->quiet)
        return;
    va_list args;
    va_start(args, fmt);
    write_line(fmt, args);
    va_end(args);
}

void og_warn_line(void *context, const struct og_warning *warning)
{
    (void)context;
    og_log("%s", warning->line);
}
