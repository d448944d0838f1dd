"""Test fixture: a multiprocessing pool with the given start method, run to a normal end. With spawn
and forkserver, helpers (the resource tracker, the forkserver) outlive the main process for a moment
and end by themselves at EOF; nothing may be printed about them."""
import multiprocessing
import sys


def square(x):
    return x * x


if __name__ == "__main__":
    multiprocessing.set_start_method(sys.argv[1])
    with multiprocessing.Pool(2) as pool:
        print(pool.map(square, [1, 2, 3]))
