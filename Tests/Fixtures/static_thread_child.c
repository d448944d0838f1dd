/* Test fixture, linked statically: a parent that forks its child from a second thread, announces
 * both and waits. Neither loads the preload library, and nothing arms PR_SET_PDEATHSIG for the
 * child (the library would not either: the kernel fires it when the forking *thread* exits). */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *spawn(void *unused)
{
    (void)unused;
    pid_t child = fork();
    if (child == 0) {
        printf("ready thread-child %d\n", (int)getpid());
        fflush(stdout);
        for (;;)
            pause();
    }
    return NULL;
}

int main(void)
{
    pthread_t thread;
    if (pthread_create(&thread, NULL, spawn, NULL) != 0 || pthread_join(thread, NULL) != 0)
        return 1;
    printf("ready parent %d\n", (int)getpid());
    fflush(stdout);
    for (;;)
        pause();
}
