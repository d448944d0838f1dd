/*
 * What `orphanguard ps` asks the kernel that Swift's Glibc module cannot: extended attributes.
 * Errors are returned as errno values, unchanged.
 */
#include "ps_sys.h"

#include <errno.h>
#include <stddef.h>
#include <sys/xattr.h>

int og_ps_file_capabilities(const char *path)
{
    if (getxattr(path, "security.capability", NULL, 0) >= 0)
        return 1;
    return errno == ENODATA ? 0 : -errno;
}
