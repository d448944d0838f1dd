/*
 * Test fixture: a program that insists on being single-threaded, as Chromium's
 * zygote does before it forks renderers: it counts its threads by the link
 * count of /proc/self/task (two plus one per thread) and exits 3 when there is
 * more than one.
 *
 *   single_thread_check --type=TYPE [--wait]
 *       TYPE as Chromium passes it (zygote, renderer, ...); with --wait, prints
 *       "ready TYPE <pid>" once the check passed and waits to be killed
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct stat task;
    if (stat("/proc/self/task", &task) != 0) {
        perror("single_thread_check: /proc/self/task");
        return 2;
    }
    if (task.st_nlink != 3) {
        fprintf(stderr, "single_thread_check: %lu threads, expected one\n", (unsigned long)task.st_nlink - 2);
        return 3;
    }
    if (argc > 2 && !strcmp(argv[2], "--wait")) {
        printf("ready %s %d\n", argc > 1 && !strncmp(argv[1], "--type=", 7) ? argv[1] + 7 : "?", (int)getpid());
        fflush(stdout);
        for (;;)
            pause();
    }
    return 0;
}
