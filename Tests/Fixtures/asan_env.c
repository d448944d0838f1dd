/*
 * Built with -fsanitize=address: gcc links ASan's shared runtime, which refuses
 * to start when another library is loaded before it. Prints the ASAN_OPTIONS
 * it sees; with "overflow" it writes past a heap block, which ASan must still
 * report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *options = getenv("ASAN_OPTIONS");
    printf("ASAN_OPTIONS %s\n", options ? options : "(unset)");
    fflush(stdout);
    if (argc > 1 && !strcmp(argv[1], "overflow")) {
        volatile char *block = malloc(4);
        block[4] = 1;
        free((void *)block);
    }
    return 0;
}
