"""A SLURM task shaped like a rank with helpers (scripts/slurm-check): it forks two workers that never
exec and starts a daemon the way daemon(3) and `setsid -f` do: fork, setsid, fork, and the middle
process exits. The daemon is re-parented at birth, so no proctrack plugin that follows parent pids can
find it, and it holds the step's stdout. Prints "ready <role> <pid>" for each (the daemon's line comes
from the middle process, so it is printed even when a guard ends the daemon at once), then sleeps
until it is signalled."""
import os
import time


def announce(role, pid=None):
    # one write(2) per line: the processes share the step's stdout and must not interleave
    os.write(1, f"ready {role} {pid or os.getpid()}\n".encode())


def sleep_forever():
    while True:
        time.sleep(3600)


def rank():
    for number in range(2):
        if os.fork() == 0:
            announce(f"worker{number}")
            sleep_forever()
    middle = os.fork()
    if middle == 0:
        os.setsid()
        escapee = os.fork()
        if escapee == 0:
            sleep_forever()
        announce("escapee", escapee)
        os._exit(0)
    os.waitpid(middle, 0)
    announce("rank")
    sleep_forever()


rank()
