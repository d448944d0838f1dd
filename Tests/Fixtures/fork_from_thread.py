"""Test fixture: fork from a worker thread; in the child, that thread's copy is the only thread and
ends by returning while another thread finishes (CPython's own test_threading does this). The child
must then end as it would without the library (exit status 0, both lines printed)."""
import sys, os, time, threading
def joiningfunc(mainthread):
    mainthread.join()
    print('end of thread')
    sys.stdout.flush()
main_thread = threading.current_thread()
def worker():
    childpid = os.fork()
    if childpid != 0:
        os.waitpid(childpid, 0)
        sys.exit(0)
    t = threading.Thread(target=joiningfunc, args=(main_thread,))
    print('end of main')
    t.start()
    t.join()
w = threading.Thread(target=worker)
w.start()
