"""Test fixture: a process whose SIGTERM handler spends half a second writing a checkpoint
(argv[1]) before it exits 0. Prints "ready checkpointer <pid>"."""
import os
import signal
import sys
import time


def save(signum, frame):
    with open(sys.argv[1], "w") as f:
        f.write("started\n")
        f.flush()
        time.sleep(0.5)
        f.write("done\n")
    sys.exit(0)


signal.signal(signal.SIGTERM, save)
print(f"ready checkpointer {os.getpid()}", flush=True)
while True:
    time.sleep(3600)
