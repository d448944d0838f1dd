/*
 * Giving a program back the environment its parent gave it.
 *
 * exec added ORPHANGUARD_PARENT, the settings an explicit environment lacked
 * and ASan's link-order switch (environ_inject.c); ORPHANGUARD_ADDED names
 * them. The constructor takes them out again before main() runs.
 *
 * `environ` is edited directly, never through getenv/setenv/unsetenv: a
 * program may define its own (bash does, for its shell variables), the loader
 * binds our calls to those, and bash's unsetenv does nothing before the shell
 * has started, so bash saw every variable we added.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "og.h"

/* The value of the first NAME=... entry, or NULL. */
static char *env_value(const char *name)
{
    for (char **e = environ; e && *e; e++) {
        const char *value = og_entry_value(*e, name);
        if (value)
            return (char *)value;
    }
    return NULL;
}

/* Removes every NAME=... entry, in place, as glibc's unsetenv does. */
static void env_remove(const char *name)
{
    char **e = environ;
    while (e && *e) {
        if (og_entry_value(*e, name)) {
            char **d = e;
            do
                d[0] = d[1];
            while (*d++);
        } else {
            e++;
        }
    }
}

/* Gives the program back its own ASAN_OPTIONS, which exec extended. */
static void drop_asan_suffix(void)
{
    static const char suffix[] = ":" OG_ASAN_LINK_ORDER;
    const size_t suffix_len = sizeof(suffix) - 1, name_len = sizeof(OG_ASAN_OPTIONS);
    char *value = env_value(OG_ASAN_OPTIONS);
    size_t len = value ? strlen(value) : 0;
    if (len < suffix_len || strcmp(value + len - suffix_len, suffix))
        return;
    /* A new string: the original stays readable in /proc/PID/environ. */
    char *entry = malloc(name_len + len - suffix_len + 1);
    if (!entry)
        return;
    memcpy(entry, value - name_len, name_len + len - suffix_len);
    entry[name_len + len - suffix_len] = '\0';
    for (char **e = environ; *e; e++)
        if (*e == value - name_len) {
            *e = entry;
            break;
        }
}

/* Copies src up to `stop` or its end into dst, terminated; returns the
 * length, or cap if that does not fit. By hand, like the comparisons: this
 * runs in every process that starts (see og_has_prefix). */
static size_t copy_until(char *dst, size_t cap, const char *src, char stop)
{
    size_t n = 0;
    for (; src[n] && src[n] != stop; n++) {
        if (n + 1 >= cap)
            return cap;
        dst[n] = src[n];
    }
    dst[n] = '\0';
    return n;
}

static bool same(const char *a, const char *b)
{
    return og_has_prefix(a, b) && og_has_prefix(b, a);
}

static void remove_added(const char *added)
{
    char name[64];
    while (*added) {
        size_t len = copy_until(name, sizeof(name), added, ',');
        if (len > 0 && len < sizeof(name)) {
            if (og_has_prefix(name, OG_ENV_PREFIX) || same(name, OG_ASAN_OPTIONS))
                env_remove(name);
            else if (same(name, OG_ASAN_OPTIONS "+"))
                drop_asan_suffix();
        }
        while (*added && *added != ',')
            added++;
        if (*added)
            added++;
    }
}

/* Takes every ORPHANGUARD_PARENT and ORPHANGUARD_ADDED entry out of
 * `environ` in one pass (this runs in every process that starts) and returns
 * the first value of each; the strings themselves stay where they are. */
static void take_internal(const char **hint, const char **added)
{
    char **out = environ;
    for (char **e = environ; e && *e; e++) {
        if (og_has_prefix(*e, OG_ENV_PREFIX)) {
            const size_t prefix = sizeof(OG_ENV_PREFIX) - 1;
            const char *value = og_entry_value(*e + prefix, &OG_ENV_PARENT[prefix]);
            if (value) {
                *hint = *hint ? *hint : value;
                continue;
            }
            if ((value = og_entry_value(*e + prefix, &OG_ENV_ADDED[prefix]))) {
                *added = *added ? *added : value;
                continue;
            }
        }
        *out++ = *e;
    }
    if (out)
        *out = NULL;
}

void og_env_restore(char *parent_hint, size_t len)
{
    const char *hint = NULL, *added = NULL;
    take_internal(&hint, &added);
    parent_hint[0] = '\0';
    if (hint && copy_until(parent_hint, len, hint, '\0') == len)
        parent_hint[0] = '\0'; /* too long: no hint of ours */
    if (added) {
        /* A copy: removing entries may remove the one it points into. Cut
         * at 511 bytes, like the names it is made of. */
        char copy[512];
        size_t n = 0;
        for (; added[n] && n < sizeof(copy) - 1; n++)
            copy[n] = added[n];
        copy[n] = '\0';
        remove_added(copy);
    }
}
