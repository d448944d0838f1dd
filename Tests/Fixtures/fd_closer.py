"""Closes every descriptor it did not open, as daemons and sandboxes do, then reuses the numbers.

Once the watcher has opened its descriptors, closes descriptors 3 and up one by one (os.closerange falls back
to close() where close_range is unavailable), opens /dev/null 400 times so that high numbers are taken
by files of its own, and raises SIGRTMAX with it blocked (the watcher's own signal, which also wakes
the watcher and makes it poll its descriptors again). Then prints "ready closer <pid>" and sleeps.
"""
import os
import signal
import time


def watcher_descriptors_open():
    """Has the watcher opened its pidfd (in our table, from 256 on)?"""
    for fd in os.listdir("/proc/self/fd"):
        try:
            if int(fd) >= 256 and os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[pidfd]":
                return True
        except OSError:
            pass
    return False


deadline = time.monotonic() + 5
while not watcher_descriptors_open() and time.monotonic() < deadline:
    time.sleep(0.005)
os.closerange(3, 4096)
kept = [os.open("/dev/null", os.O_RDONLY) for _ in range(400)]
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGRTMAX})
os.kill(os.getpid(), signal.SIGRTMAX)
print("ready closer", os.getpid(), flush=True)
time.sleep(60)
