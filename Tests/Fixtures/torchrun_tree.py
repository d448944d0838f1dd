"""Test fixture shaped like a torchrun job: an agent starts 4 ranks, each in its own
session (start_new_session=True, as torchrun does); each rank forks 2 "DataLoader"
workers that never exec. Every process prints "ready <role> <pid>"."""
import os
import subprocess
import sys
import time


def announce(role):
    print(f"ready {role} {os.getpid()}", flush=True)


def sleep_forever():
    while True:
        time.sleep(3600)


def rank():
    for _ in range(2):
        if os.fork() == 0:
            announce("worker")
            sleep_forever()
    announce("rank")
    sleep_forever()


def agent(static_child):
    ranks = [subprocess.Popen([sys.executable, __file__, "rank"], start_new_session=True) for _ in range(4)]
    if static_child:
        subprocess.Popen([static_child])
    announce("agent")
    for r in ranks:
        r.wait()


if __name__ == "__main__":
    if sys.argv[1] == "rank":
        rank()
    else:
        agent(sys.argv[2] if len(sys.argv) > 2 else None)
