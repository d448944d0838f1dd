/*
 * Test fixture: the main thread leaves with pthread_exit() while a worker
 * finishes; the worker's output is still in stdout's buffer when it returns.
 * Without a watcher glibc then ends the process with exit(0), flushing it.
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static void *work(void *unused)
{
    (void)unused;
    struct timespec moment = {0, 100000000};
    nanosleep(&moment, NULL);
    printf("worker done\n"); /* stdout is a pipe: buffered until exit() */
    return NULL;
}

int main(void)
{
    pthread_t worker;
    pthread_create(&worker, NULL, work, NULL);
    printf("main leaving\n");
    pthread_exit(NULL);
}
