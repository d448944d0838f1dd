/*
 * Test fixture: execvp(FILE, [FILE, ARGS...]) with the PATH it was given;
 * prints "errno N" if the call returns. Run with and without the library, the
 * output must be the same: the library searches PATH itself.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    execvp(argv[1], argv + 1);
    printf("errno %d\n", errno);
    return 0;
}
