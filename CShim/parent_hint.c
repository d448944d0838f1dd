/*
 * ORPHANGUARD_PARENT=<pid>:<start time>:<forked from its main thread>:<signal
 * exec armed PR_SET_PDEATHSIG with>:<the pid it was armed in>, which exec passes to the new image so its
 * constructor knows the real parent (see lifecycle.c). The last two also tell
 * the launcher, in /proc/PID/environ, that a process that runs no library (a
 * static image) got the kernel's signal. Formatting runs in
 * vfork children: no allocation, no stdio. Parsing takes anything: a forged
 * or garbled value is no hint at all.
 */
#include <limits.h>
#include <string.h>

#include "include/og_core.h"

struct og_parent_hint og_parent_hint_parse(const char *value)
{
    struct og_parent_hint hint = {0};
    unsigned long long fields[5] = {0};
    int i = 0;
    for (const char *p = value; i < 5; p++) {
        if (*p >= '0' && *p <= '9') {
            fields[i] = fields[i] * 10 + (unsigned)(*p - '0');
            if (fields[i] > (1ULL << 62))
                return hint;
        } else if (*p == ':' || *p == '\0') {
            i++;
            if (*p == '\0')
                break;
        } else {
            return hint;
        }
    }
    if (i != 5 || fields[0] == 0 || fields[0] > INT_MAX || fields[3] > 64 || fields[4] > INT_MAX)
        return hint;
    hint.present = true;
    hint.proc.pid = (pid_t)fields[0];
    hint.proc.start = fields[1];
    hint.from_main = fields[2] == 1;
    hint.armed_signal = (int)fields[3];
    hint.armed_in = (pid_t)fields[4];
    return hint;
}

void og_parent_hint_format(char *buf, size_t len, struct og_proc parent, bool from_main, int armed_signal,
                           pid_t armed_in)
{
    char tmp[96] = OG_ENV_PARENT "=";
    size_t n = sizeof(OG_ENV_PARENT);
    n += og_format_uint(tmp + n, (unsigned long long)parent.pid);
    tmp[n++] = ':';
    n += og_format_uint(tmp + n, parent.start);
    tmp[n++] = ':';
    tmp[n++] = from_main ? '1' : '0';
    tmp[n++] = ':';
    n += og_format_uint(tmp + n, (unsigned long long)armed_signal);
    tmp[n++] = ':';
    n += og_format_uint(tmp + n, (unsigned long long)(armed_signal ? armed_in : 0));
    tmp[n] = '\0';
    if (n < len)
        memcpy(buf, tmp, n + 1);
    else if (len)
        buf[0] = '\0';
}
