/*
 * libFuzzer harness: og_config_parse, og_signal_parse/og_signal_check, og_seconds_parse and the
 * ORPHANGUARD_PARENT codec on arbitrary input. The input is split at
 * newlines into environment entries (so ORPHANGUARD_* names and arbitrary values both occur). A bad
 * value must give a default, never a crash, an overflow (ASan) or undefined behaviour (UBSan).
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../CShim/og.h"

static int warnings;
static void count_warning(void *context, const struct og_warning *warning)
{
    (void)context;
    if (strlen(warning->line) == 0 || !warning->problem || strcmp(og_config_check(warning->var, warning->value), warning->problem))
        abort();
    warnings++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char *envp[64];
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line && n < 63; line = strtok(NULL, "\n"))
        envp[n++] = line;
    envp[n] = NULL;

    struct og_config cfg;
    og_config_parse(&cfg, envp, count_warning, NULL);
    /* Whatever came in, the settings are in range. */
    if (cfg.signal < 1 || cfg.signal > 64 || cfg.grace_ms < 0 || cfg.grace_ms > 86400000L ||
        cfg.poll_ms < 1 || cfg.poll_ms > 60000)
        abort();
    for (int v = 0; v < OG_VAR_COUNT; v++)
        if (cfg.given[v][0] && !strchr(cfg.given[v], '='))
            abort();
    for (size_t i = 0; i < n; i++) {
        int sig = og_signal_parse(envp[i]);
        if (sig != -1 && (sig < 1 || sig > 64))
            abort();
        char name[24];
        if (sig > 0 && strncmp(og_signal_name(sig, name, sizeof(name)), "SIG", 3))
            abort();
        og_name_listed(envp[i], n > 1 ? envp[1] : "");
        /* A refused signal means the default, never the refused one. */
        int effective = og_signal_effective(envp[i]);
        if (effective < 1 || effective > 64 || effective == SIGSTOP || effective == SIGCONT ||
            effective == SIGTSTP || effective == SIGTTIN || effective == SIGTTOU)
            abort();
        long ms;
        if (og_seconds_parse(envp[i], 0, 86400000L, &ms) && (ms < 0 || ms > 86400000L))
            abort();
        /* Whatever a hint says, what it names formats back to the same fields. */
        struct og_parent_hint hint = og_parent_hint_parse(envp[i]);
        if (hint.present) {
            char entry[96];
            og_parent_hint_format(entry, sizeof(entry), hint.proc, hint.from_main, hint.armed_signal, hint.armed_in);
            struct og_parent_hint again = og_parent_hint_parse(entry + sizeof(OG_ENV_PARENT));
            if (!again.present || again.proc.pid != hint.proc.pid || again.proc.start != hint.proc.start ||
                again.from_main != hint.from_main || again.armed_signal != hint.armed_signal || hint.proc.pid <= 0 ||
                (hint.armed_signal && again.armed_in != hint.armed_in))
                abort();
        }
    }
    free(text);
    return 0;
}
