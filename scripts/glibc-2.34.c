// SPDX-License-Identifier: Apache-2.0
/// Keeps the launcher's glibc floor at 2.34 (RHEL 9 and its rebuilds, Ubuntu 22.04, Debian 12),
/// which the wheel's manylinux tag and the .deb's libc6 dependency follow. Built on glibc 2.35+,
/// the Swift standard library linked statically binds `hypotf` to libm's GLIBC_2.35 version, the
/// one symbol newer than 2.34 either ELF file needs; the launcher defines `hypotf` itself and
/// forwards to the original version, which every glibc has. C because only the assembler can
/// name a symbol version (`.symver`). scripts/install.sh links it into the launcher.
#if defined(__x86_64__)
__asm__(".symver og_original_hypotf, hypotf@GLIBC_2.2.5");
#elif defined(__aarch64__)
__asm__(".symver og_original_hypotf, hypotf@GLIBC_2.17");
#endif

float og_original_hypotf(float x, float y);

// Hidden: an exported unversioned `hypotf` would itself satisfy the versioned lookup above at run
// time, and the function would call itself.
__attribute__((visibility("hidden"))) float hypotf(float x, float y) { return og_original_hypotf(x, y); }
