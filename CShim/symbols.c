/*
 * The next definition of a libc function the library interposes, looked up
 * once with dlsym(RTLD_NEXT) and cached.
 */
#define _GNU_SOURCE
#include <dlfcn.h>

#include "og.h"

void *og_next(void **cache, const char *name)
{
    /* Only for what runs in ordinary context (spawn, system, popen, the
     * setuid family outside vfork children): dlsym takes the loader's lock,
     * which a vfork child must not (path_search.c). */
    void *next = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
    if (!next) {
        /* Threads may race here; each finds the same symbol. */
        next = dlsym(RTLD_NEXT, name);
        __atomic_store_n(cache, next, __ATOMIC_RELEASE);
    }
    return next;
}
