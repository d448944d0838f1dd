/*
 * This process's settings: the ORPHANGUARD_* variables it started with,
 * parsed once by the constructor (config.c holds the rules) and read by
 * everything that acts on them.
 */
#include "og.h"

static struct og_config g_cfg;

const struct og_config *og_config(void) { return &g_cfg; }

void og_config_load(char *const envp[], og_warn_fn warn)
{
    og_config_parse(&g_cfg, envp, warn, NULL);
}
