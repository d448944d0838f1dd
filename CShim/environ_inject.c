/*
 * Putting the guard back into an environment a program passes to exec.
 *
 * Programs that exec with an explicit environment (Popen(env={...}), env -i,
 * execle) drop LD_PRELOAD and our settings, so their children would run
 * unguarded. Before each exec the library rebuilds the environment: our library
 * first in LD_PRELOAD (other entries kept, never duplicated), each setting this
 * process received that the new environment lacks, and ORPHANGUARD_PARENT (who
 * is exec'ing). ORPHANGUARD_ADDED lists the settings added so that the child's
 * constructor can remove exactly those again: the program sees the environment
 * its parent gave it, plus LD_PRELOAD.
 *
 * ASan's shared runtime (what gcc's -fsanitize=address links) aborts a program
 * whose first library is not itself, and a preloaded library comes first. Its
 * option verify_asan_link_order=0 is the documented way out for a library
 * preloaded everywhere, so every rebuilt environment carries it in
 * ASAN_OPTIONS: added whole ("ASAN_OPTIONS" in the ADDED list) or appended to
 * the program's own options ("ASAN_OPTIONS+"); the constructor undoes either.
 * ASan reads its options before any constructor runs.
 *
 * An exec into a filesystem where the library is not (chroot, a sandbox's
 * mount namespace) cannot carry the guard, and the loader would print an
 * error for the LD_PRELOAD entry it cannot open on the program's stderr. That
 * environment goes as given, minus the entries naming an unreadable copy of
 * the library.
 *
 * This code runs in vfork children, which share memory with their parent: it
 * allocates nothing and only writes into the caller's buffer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "include/og_core.h"

#define LD_PRELOAD_EQ "LD_PRELOAD="
#define ASAN_OPTIONS_EQ OG_ASAN_OPTIONS "="
#define ASAN_LINK_ORDER_KEY "verify_asan_link_order"

static bool has_name(const char *entry, const char *name_eq, size_t len)
{
    return !strncmp(entry, name_eq, len);
}

/* Length of "NAME=" in a "NAME=value" string (whole string if no '='). */
static size_t name_len(const char *entry)
{
    const char *eq = strchr(entry, '=');
    return eq ? (size_t)(eq - entry) + 1 : strlen(entry);
}

static bool is_internal(const char *entry)
{
    return has_name(entry, OG_ENV_PARENT "=", sizeof(OG_ENV_PARENT)) ||
           has_name(entry, OG_ENV_ADDED "=", sizeof(OG_ENV_ADDED));
}

/* Does one LD_PRELOAD entry (len bytes) name a copy of the library: `library`
 * itself (exact bytes long), or any file called liborphanguard.so? */
static bool entry_names_library(const char *entry, size_t len, const char *library, size_t exact)
{
    const size_t base = sizeof(OG_LIBRARY_BASENAME) - 1;
    if (exact && len == exact && !memcmp(entry, library, len))
        return true;
    return len >= base && !memcmp(entry + len - base, OG_LIBRARY_BASENAME, base) &&
           (len == base || entry[len - base - 1] == '/');
}

bool og_preload_has_library(const char *value, const char *library)
{
    /* The loader splits LD_PRELOAD on spaces and colons. Any copy of the
     * library counts: two copies would start two watchers. */
    const size_t exact = library ? strlen(library) : 0;
    while (*value) {
        size_t len = strcspn(value, ": ");
        if (entry_names_library(value, len, library, exact))
            return true;
        value += len;
        if (*value)
            value++;
    }
    return false;
}

static size_t count_entries(char *const envp[])
{
    size_t count = 0;
    for (char *const *e = envp; e && *e; e++)
        count++;
    return count;
}

/* Lays buf out as an array of `slots` pointers, aligned, followed by room for
 * strings from *strings to *end; NULL if the array alone does not fit. */
static char **pointer_array(void *buf, size_t len, size_t slots, char **strings, char **end)
{
    uintptr_t base = ((uintptr_t)buf + sizeof(char *) - 1) & ~(uintptr_t)(sizeof(char *) - 1);
    char **out = (char **)base;
    *strings = (char *)(out + slots);
    *end = (char *)buf + len;
    return (uintptr_t)*strings > (uintptr_t)*end ? NULL : out;
}

static const char *find_entry(char *const envp[], const char *name_eq, size_t len)
{
    for (char *const *e = envp; e && *e; e++)
        if (has_name(*e, name_eq, len))
            return *e;
    return NULL;
}

/* The LD_PRELOAD the loader uses: it reads the environment in order and the
 * last entry wins. */
static const char *find_preload(char *const envp[])
{
    const char *found = NULL;
    for (char *const *e = envp; e && *e; e++)
        if (has_name(*e, LD_PRELOAD_EQ, sizeof(LD_PRELOAD_EQ) - 1))
            found = *e;
    return found;
}

/* The ASAN_OPTIONS entry ASan reads (the first), or NULL. */
static const char *find_asan_options(char *const envp[])
{
    return find_entry(envp, ASAN_OPTIONS_EQ, sizeof(ASAN_OPTIONS_EQ) - 1);
}

/* Does the program's ASAN_OPTIONS leave the link-order check to us? A value
 * that names the option, either way, is the program's choice. */
static bool asan_options_need_key(const char *entry)
{
    return !entry || !strstr(entry, ASAN_LINK_ORDER_KEY);
}

/* The ASAN_OPTIONS token of the ADDED list envp already carries, or NULL.
 * The launcher adds the switch for CMD itself; when the launcher runs with
 * the library loaded, its exec comes through here and must keep saying so. */
static const char *carried_asan_token(char *const envp[])
{
    const char *added = find_entry(envp, OG_ENV_ADDED "=", sizeof(OG_ENV_ADDED));
    if (!added)
        return NULL;
    for (const char *p = added + sizeof(OG_ENV_ADDED); *p;) {
        size_t len = strcspn(p, ",");
        if (len == sizeof(OG_ASAN_OPTIONS) - 1 && !memcmp(p, OG_ASAN_OPTIONS, len))
            return OG_ASAN_OPTIONS;
        if (len == sizeof(OG_ASAN_OPTIONS) && !memcmp(p, OG_ASAN_OPTIONS "+", len))
            return OG_ASAN_OPTIONS "+";
        p += len;
        if (*p)
            p++;
    }
    return NULL;
}

static bool var_missing(char *const envp[], const char *var)
{
    return find_entry(envp, var, name_len(var)) == NULL;
}

bool og_env_lacks_guard(char *const envp[], const struct og_inject *inject)
{
    const char *preload = find_preload(envp);
    if (!preload || !og_preload_has_library(preload + sizeof(LD_PRELOAD_EQ) - 1, inject->library))
        return true;
    for (size_t i = 0; i < inject->nvars; i++)
        if (var_missing(envp, inject->vars[i]))
            return true;
    return false;
}

size_t og_env_size(char *const envp[], const struct og_inject *inject)
{
    size_t count = count_entries(envp);
    /* The new LD_PRELOAD, the added variables, ASAN_OPTIONS, PARENT, ADDED
     * and NULL. */
    size_t slots = count + inject->nvars + 5;
    size_t bytes = sizeof(LD_PRELOAD_EQ) + strlen(inject->library) + 1;
    const char *preload = find_preload(envp);
    if (preload)
        bytes += strlen(preload);
    bytes += sizeof(OG_ENV_ADDED) + 1;
    for (size_t i = 0; i < inject->nvars; i++)
        bytes += name_len(inject->vars[i]) + 1;
    const char *asan = find_asan_options(envp);
    bytes += sizeof(ASAN_OPTIONS_EQ) + sizeof(OG_ASAN_LINK_ORDER) + (asan ? strlen(asan) : 0);
    bytes += sizeof(OG_ASAN_OPTIONS "+,");
    return slots * sizeof(char *) + bytes + sizeof(char *);
}

/* Appends src to the string being built at *cursor, within end. */
static bool append(char **cursor, char *end, const char *src, size_t len)
{
    if ((size_t)(end - *cursor) < len + 1)
        return false;
    memcpy(*cursor, src, len);
    *cursor += len;
    **cursor = '\0';
    return true;
}

char **og_env_build(char *const envp[], const struct og_inject *inject, void *buf, size_t len)
{
    char *strings, *end;
    char **out = pointer_array(buf, len, count_entries(envp) + inject->nvars + 5, &strings, &end);
    if (!out)
        return NULL;

    /* Every LD_PRELOAD entry is replaced by one: duplicates would let the
     * loader and getenv() disagree about which one counts. */
    size_t n = 0;
    const char *preload = find_preload(envp);
    const char *asan = find_asan_options(envp);
    bool asan_key = asan_options_need_key(asan);
    size_t asan_slot = 0;
    for (char *const *e = envp; e && *e; e++) {
        if (*e == asan && asan_key)
            asan_slot = n; /* replaced in place below */
        if (!is_internal(*e) && !has_name(*e, LD_PRELOAD_EQ, sizeof(LD_PRELOAD_EQ) - 1))
            out[n++] = *e;
    }

    /* LD_PRELOAD: ours first, then whatever the program asked for. */
    const char *old = preload ? preload + sizeof(LD_PRELOAD_EQ) - 1 : "";
    if (preload && og_preload_has_library(old, inject->library)) {
        out[n++] = (char *)preload;
    } else {
        char *start = strings;
        if (!append(&strings, end, LD_PRELOAD_EQ, sizeof(LD_PRELOAD_EQ) - 1) ||
            !append(&strings, end, inject->library, strlen(inject->library)))
            return NULL;
        if (*old && (!append(&strings, end, ":", 1) || !append(&strings, end, old, strlen(old))))
            return NULL;
        strings++;
        out[n++] = start;
    }

    /* ASAN_OPTIONS with the link-order check off. */
    if (asan_key) {
        char *start = strings;
        const char *own = asan ? asan + sizeof(ASAN_OPTIONS_EQ) - 1 : "";
        if (!append(&strings, end, ASAN_OPTIONS_EQ, sizeof(ASAN_OPTIONS_EQ) - 1) ||
            !append(&strings, end, own, strlen(own)) ||
            (asan && !append(&strings, end, ":", 1)) ||
            !append(&strings, end, OG_ASAN_LINK_ORDER, sizeof(OG_ASAN_LINK_ORDER) - 1))
            return NULL;
        strings++;
        if (asan)
            out[asan_slot] = start;
        else
            out[n++] = start;
    }

    /* Settings this process received that the new environment lacks. */
    char *added = strings;
    if (!append(&strings, end, OG_ENV_ADDED "=", sizeof(OG_ENV_ADDED)))
        return NULL;
    size_t added_count = 0;
    const char *token = asan_key ? (asan ? OG_ASAN_OPTIONS "+" : OG_ASAN_OPTIONS)
                                 : asan ? carried_asan_token(envp) : NULL;
    if (token) {
        if (!append(&strings, end, token, strlen(token)))
            return NULL;
        added_count++;
    }
    for (size_t i = 0; i < inject->nvars; i++) {
        const char *var = inject->vars[i];
        if (!var_missing(envp, var))
            continue;
        out[n++] = (char *)var;
        if ((added_count++ && !append(&strings, end, ",", 1)) ||
            !append(&strings, end, var, name_len(var) - 1))
            return NULL;
    }
    strings++;
    if (added_count)
        out[n++] = added;
    if (inject->parent)
        out[n++] = (char *)inject->parent;
    out[n] = NULL;
    return out;
}

/* ---- an exec the library cannot follow --------------------------------- */

bool og_library_readable(const char *library)
{
    if (faccessat(AT_FDCWD, library, R_OK, AT_EACCESS) == 0)
        return true;
    /* Only these say the file is out of reach. A seccomp filter that denies
     * faccessat2 itself (EPERM or ENOSYS, older container profiles) says
     * nothing about the file, and must not cost every child its guard. */
    return errno != ENOENT && errno != ENOTDIR && errno != EACCES && errno != ELOOP;
}

/* Can the new image's loader open this LD_PRELOAD entry (len bytes of a
 * longer string)? */
static bool entry_readable(const char *entry, size_t len)
{
    char path[PATH_MAX];
    if (len >= sizeof(path))
        return true; /* the loader cannot name it either; not ours to judge */
    memcpy(path, entry, len);
    path[len] = '\0';
    return og_library_readable(path);
}

size_t og_env_unguarded_size(char *const envp[])
{
    const char *preload = find_preload(envp);
    return (count_entries(envp) + 2) * sizeof(char *) + (preload ? strlen(preload) + 1 : 0);
}

/* envp minus the LD_PRELOAD entries naming a copy of the library: the
 * unreadable ones, or all of them. */
static char **build_without_copies(char *const envp[], const char *library, bool readable_too, void *buf, size_t len)
{
    const size_t exact = strlen(library);
    char *strings, *end;
    char **out = pointer_array(buf, len, count_entries(envp) + 1, &strings, &end);
    if (!out)
        return NULL;

    size_t n = 0;
    const char *preload = find_preload(envp);
    for (char *const *e = envp; e && *e; e++)
        if (!has_name(*e, LD_PRELOAD_EQ, sizeof(LD_PRELOAD_EQ) - 1))
            out[n++] = *e;
    if (preload) {
        /* Every other entry stays, in order, with the loader's separators. */
        char *start = strings;
        if (!append(&strings, end, LD_PRELOAD_EQ, sizeof(LD_PRELOAD_EQ) - 1))
            return NULL;
        size_t kept = 0;
        for (const char *p = preload + sizeof(LD_PRELOAD_EQ) - 1; *p;) {
            size_t len_entry = strcspn(p, ": ");
            bool ours = len_entry && entry_names_library(p, len_entry, library, exact);
            if (len_entry && !(ours && (readable_too || !entry_readable(p, len_entry)))) {
                if ((kept++ && !append(&strings, end, ":", 1)) || !append(&strings, end, p, len_entry))
                    return NULL;
            }
            p += len_entry;
            if (*p)
                p++;
        }
        if (kept)
            out[n++] = start;
    }
    out[n] = NULL;
    return out;
}

char **og_env_build_unguarded(char *const envp[], const char *library, void *buf, size_t len)
{
    return build_without_copies(envp, library, false, buf, len);
}

char **og_env_build_without_library(char *const envp[], const char *library, void *buf, size_t len)
{
    return build_without_copies(envp, library, true, buf, len);
}
