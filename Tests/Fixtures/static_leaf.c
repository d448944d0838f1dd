/* Test fixture, linked statically: announces itself and waits. It never loads
 * the preload library, so only PR_SET_PDEATHSIG (or the launcher) can end it. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    printf("ready static %d\n", (int)getpid());
    fflush(stdout);
    for (;;)
        pause();
}
