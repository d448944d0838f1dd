"""Test fixture: an agent forks 2 workers (multiprocessing, fork); each creates a 1 MiB
multiprocessing.shared_memory segment named og_test_<tag>_<pid> and a Lock (a named semaphore),
then sleeps. With "reuse NAME" a worker also opens the existing segment NAME with O_CREAT (not
exclusive), as code that shares a segment by name does. Every process prints
"ready <role> <pid>"."""
import multiprocessing as mp
import os
import sys
import time
from multiprocessing import shared_memory


def worker(tag, reuse):
    shm = shared_memory.SharedMemory(create=True, size=1 << 20, name=f"og_test_{tag}_{os.getpid()}")
    if reuse:
        import _posixshmem
        os.close(_posixshmem.shm_open("/" + reuse, os.O_RDWR | os.O_CREAT, mode=0o600))
    lock = mp.Lock()
    print(f"ready worker {os.getpid()}", flush=True)
    time.sleep(60)


if __name__ == "__main__":
    mp.set_start_method("fork")
    reuse = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "reuse" else None
    workers = [mp.Process(target=worker, args=(sys.argv[1], reuse)) for _ in range(2)]
    for w in workers:
        w.start()
    print(f"ready agent {os.getpid()}", flush=True)
    time.sleep(60)
