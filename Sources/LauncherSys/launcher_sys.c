#include "launcher_sys.h"
int og_launcher_sys_placeholder(void) { return 0; }
