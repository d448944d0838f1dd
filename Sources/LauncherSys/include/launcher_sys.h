#ifndef LAUNCHER_SYS_H
#define LAUNCHER_SYS_H
/* Placeholder; the launcher issue fills this in. */
int og_launcher_sys_placeholder(void);
#endif
