/*
 * libFuzzer harness: og_env_build / og_env_size / og_env_lacks_guard with an arbitrary envp and
 * injection. Invariants: the result fits in exactly og_env_size bytes (ASan watches the heap copy),
 * is NULL-terminated, keeps every input entry except LD_PRELOAD, the internal variables and the
 * first ASAN_OPTIONS (which it may extend, in place), has exactly one LD_PRELOAD that names the
 * library first (or already contained a copy of it), has an ASAN_OPTIONS that decides ASan's
 * link-order check, and afterwards lacks nothing. og_env_build_unguarded (for an exec that cannot
 * see the library; the path in the input is usually missing) fits in og_env_unguarded_size, keeps
 * every entry but LD_PRELOAD in order, and leaves at most one LD_PRELOAD that names no missing copy
 * of the library; og_env_build_without_library (the launcher's) leaves none at all.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../CShim/og.h"

static int count_prefix(char **env, const char *prefix)
{
    int n = 0;
    for (char **e = env; *e; e++)
        n += !strncmp(*e, prefix, strlen(prefix));
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    /* Lines: the first is the library path, then "+NAME=value" injected variables, the rest envp. */
    char *lines[256];
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line && n < 255; line = strtok(NULL, "\n"))
        lines[n++] = line;
    /* The loader splits LD_PRELOAD at ':' and ' ': such a path cannot be preloaded at all (the
     * launcher refuses it). */
    if (n == 0 || !strchr(lines[0], '/') || strpbrk(lines[0], ": ")) {
        free(text);
        return 0;
    }
    const char *library = lines[0];
    const char *vars[16];
    size_t nvars = 0;
    char *envp[256];
    size_t nenv = 0;
    for (size_t i = 1; i < n; i++) {
        /* Injected variables are settings: ORPHANGUARD_* other than the internal two. */
        if (lines[i][0] == '+' && strchr(lines[i], '=') && nvars < 16 &&
            !strncmp(lines[i] + 1, "ORPHANGUARD_", 12) && strncmp(lines[i] + 1, "ORPHANGUARD_PARENT", 18) &&
            strncmp(lines[i] + 1, "ORPHANGUARD_ADDED", 17))
            vars[nvars++] = lines[i] + 1;
        else
            envp[nenv++] = lines[i];
    }
    envp[nenv] = NULL;
    struct og_inject inject = {library, vars, nvars, "ORPHANGUARD_PARENT=1:2:1:15:3"};

    size_t need = og_env_size(envp, &inject);
    void *buf = malloc(need);
    char **out = og_env_build(envp, &inject, buf, need);
    if (!out)
        abort(); /* og_env_size promised enough room */
    size_t nout = 0;
    while (out[nout])
        nout++;
    /* Every ordinary entry survives. */
    const char *first_asan = NULL;
    for (size_t i = 0; i < nenv && !first_asan; i++)
        if (!strncmp(envp[i], "ASAN_OPTIONS=", 13))
            first_asan = envp[i];
    for (size_t i = 0; i < nenv; i++) {
        if (!strncmp(envp[i], "LD_PRELOAD=", 11) || !strncmp(envp[i], "ORPHANGUARD_PARENT=", 19) ||
            !strncmp(envp[i], "ORPHANGUARD_ADDED=", 18) || envp[i] == first_asan)
            continue;
        int found = 0;
        for (size_t j = 0; j < nout && !found; j++)
            found = out[j] == envp[i];
        if (!found)
            abort();
    }
    /* Exactly one LD_PRELOAD, naming the library. */
    int first_preload = -1;
    for (size_t j = 0; j < nout; j++)
        if (!strncmp(out[j], "LD_PRELOAD=", 11) && first_preload < 0)
            first_preload = (int)j;
    if (first_preload < 0 || !og_preload_has_library(out[first_preload] + 11, library) ||
        count_prefix(out, "LD_PRELOAD=") != 1)
        abort();
    if (count_prefix(out, "ORPHANGUARD_PARENT=") != 1)
        abort();
    /* The first ASAN_OPTIONS names the check, and keeps what the program had in front. */
    const char *asan = NULL;
    for (size_t j = 0; j < nout && !asan; j++)
        if (!strncmp(out[j], "ASAN_OPTIONS=", 13))
            asan = out[j];
    if (!asan || !strstr(asan, "verify_asan_link_order") ||
        (first_asan && strncmp(asan, first_asan, strlen(first_asan))))
        abort();
    if (og_env_lacks_guard(out, &inject))
        abort();
    free(buf);

    need = og_env_unguarded_size(envp);
    buf = malloc(need);
    out = og_env_build_unguarded(envp, library, buf, need);
    if (!out)
        abort();
    size_t kept = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(envp[i], "LD_PRELOAD=", 11) && out[kept++] != envp[i])
            abort();
    if (out[kept]) {
        if (strncmp(out[kept], "LD_PRELOAD=", 11) || out[kept + 1] || !out[kept][11])
            abort();
        char *value = strdup(out[kept] + 11), *rest = NULL;
        for (char *entry = strtok_r(value, ": ", &rest); entry; entry = strtok_r(NULL, ": ", &rest))
            if (og_preload_has_library(entry, library) && !og_library_readable(entry))
                abort();
        free(value);
    }
    free(buf);

    /* og_env_build_without_library: the same layout, and no copy of the library at all. */
    buf = malloc(need);
    out = og_env_build_without_library(envp, library, buf, need);
    if (!out)
        abort();
    kept = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(envp[i], "LD_PRELOAD=", 11) && out[kept++] != envp[i])
            abort();
    if (out[kept] && (strncmp(out[kept], "LD_PRELOAD=", 11) || out[kept + 1] ||
                      og_preload_has_library(out[kept] + 11, library)))
        abort();
    free(buf);
    free(text);
    return 0;
}
