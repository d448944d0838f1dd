#ifndef PS_SYS_H
#define PS_SYS_H

#ifdef __clang__
#pragma clang assume_nonnull begin
#endif

/// Does the file carry file capabilities (the security.capability attribute), which make the
/// loader ignore LD_PRELOAD? For `orphanguard ps`, in C because Swift's Glibc module has no
/// getxattr. 1, 0, or -errno (ENODATA counts as 0).
int og_ps_file_capabilities(const char *path);

#ifdef __clang__
#pragma clang assume_nonnull end
#endif

#endif
