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
    size_t len = strlen(name);
    for (char **e = environ; e && *e; e++)
        if (!strncmp(*e, name, len) && (*e)[len] == '=')
            return *e + len + 1;
    return NULL;
}

/* Removes every NAME=... entry, in place, as glibc's unsetenv does. */
static void env_remove(const char *name)
{
    size_t len = strlen(name);
    char **e = environ;
    while (e && *e) {
        if (!strncmp(*e, name, len) && (*e)[len] == '=') {
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

static void remove_added(const char *added)
{
    char name[64];
    while (*added) {
        size_t len = strcspn(added, ",");
        if (len > 0 && len < sizeof(name) - 1) {
            memcpy(name, added, len);
            name[len] = '\0';
            if (!strncmp(name, OG_ENV_PREFIX, sizeof(OG_ENV_PREFIX) - 1) || !strcmp(name, OG_ASAN_OPTIONS))
                env_remove(name);
            else if (!strcmp(name, OG_ASAN_OPTIONS "+"))
                drop_asan_suffix();
        }
        added += len;
        if (*added)
            added++;
    }
}

/* Takes every ORPHANGUARD_PARENT and ORPHANGUARD_ADDED entry out of
 * `environ` in one pass (this runs in every process that starts) and returns
 * the first value of each; the strings themselves stay where they are. */
static void take_internal(const char **hint, const char **added)
{
    const size_t prefix = sizeof(OG_ENV_PREFIX) - 1, parent = sizeof(OG_ENV_PARENT), added_len = sizeof(OG_ENV_ADDED);
    char **out = environ;
    for (char **e = environ; e && *e; e++) {
        if ((*e)[0] == 'O' && !strncmp(*e, OG_ENV_PREFIX, prefix)) {
            if (!strncmp(*e, OG_ENV_PARENT "=", parent)) {
                *hint = *hint ? *hint : *e + parent;
                continue;
            }
            if (!strncmp(*e, OG_ENV_ADDED "=", added_len)) {
                *added = *added ? *added : *e + added_len;
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
    if (hint && strlen(hint) < len)
        strcpy(parent_hint, hint);
    if (added) {
        char copy[512];
        size_t n = strnlen(added, sizeof(copy) - 1);
        memcpy(copy, added, n);
        copy[n] = '\0';
        remove_added(copy);
    }
}
