"""Test fixture: a Python parent that starts one child by a chosen method, then waits.
Children print "ready <role> <pid>"; with a tree binary as second argument the leaf is that
binary's print-env leaf, which also prints "env NAME=value" lines.

  py_spawn.py popen | popen-env-empty | popen-env-explicit | popen-close-fds-false |
              thread-popen | mp-fork | mp-spawn | mp-forkserver  [tree-binary]
"""
import multiprocessing
import os
import subprocess
import sys
import threading
import time

# The leaf prints its environment, then "ready leaf <pid>". A C program (the tree fixture's leaf),
# because Python itself adds LC_CTYPE to its environment when started without a locale.
LEAF = [sys.argv[2], "leaf", "print-env"] if len(sys.argv) > 2 else [
    sys.executable, "-c", "import os, time; print(f'ready leaf {os.getpid()}', flush=True); time.sleep(3600)"]


def announce(role):
    print(f"ready {role} {os.getpid()}", flush=True)


def mp_worker():
    announce("worker")
    time.sleep(3600)


def main(method):
    children = []
    if method == "popen":
        children.append(subprocess.Popen(LEAF))
    elif method == "popen-env-empty":
        children.append(subprocess.Popen(LEAF, env={}))
    elif method == "popen-env-explicit":
        children.append(subprocess.Popen(LEAF, env={"FIXTURE": "1", "LD_PRELOAD": os.environ.get("EXTRA_PRELOAD", "")}))
    elif method == "popen-close-fds-false":
        children.append(subprocess.Popen(LEAF, close_fds=False))  # glibc posix_spawn path
    elif method == "thread-popen":
        thread = threading.Thread(target=lambda: children.append(subprocess.Popen(LEAF)))
        thread.start()
        thread.join()  # the spawning thread has exited; the child must live on
    elif method.startswith("mp-"):
        ctx = multiprocessing.get_context(method[3:])
        for _ in range(2):
            p = ctx.Process(target=mp_worker)
            p.start()
            children.append(p)
    else:
        sys.exit(f"unknown method {method}")
    announce("parent")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1])
