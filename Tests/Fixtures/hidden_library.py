"""Hides the preloaded library, as a chroot or a sandbox does, then starts children every way.

Run in a private mount namespace (unshare -m): mounts an empty tmpfs over the library's directory
(argv[1]), then starts `sh -c 'echo ${LD_PRELOAD:-none}'` by os.system, subprocess (vfork + exec),
os.popen, os.posix_spawn and fork + exec, each printing what it sees. Last, starts `sleep` from the
main thread, prints "ready leaf <pid>" and waits to be killed.
"""
import os
import subprocess
import sys
import time

SHOW = ["/bin/sh", "-c", "echo ${LD_PRELOAD:-none}"]


def wait(pid):
    os.waitpid(pid, 0)


def by_fork_exec():
    pid = os.fork()
    if pid == 0:
        os.execv(SHOW[0], SHOW)
    wait(pid)


subprocess.run(["mount", "-t", "tmpfs", "none", sys.argv[1]], check=True)
sys.stdout.flush()
os.system(SHOW[2])
subprocess.run(SHOW)
print(os.popen(SHOW[2]).read(), end="", flush=True)
wait(os.posix_spawn(SHOW[0], SHOW, dict(os.environ)))
by_fork_exec()
leaf = subprocess.Popen(["sleep", "300"])
print(f"ready leaf {leaf.pid}", flush=True)
while True:
    time.sleep(60)
