# SPDX-License-Identifier: Apache-2.0
"""orphanguard: every process of a job ends when its own parent dies.

The wheel carries the launcher and the preload library. `orphanguard run -- CMD` (or
`python -m orphanguard run -- CMD`) runs CMD guarded and supervised; code that starts its own
processes can preload the library itself:

    env["LD_PRELOAD"] = orphanguard.library_path()
"""
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def binary_path():
    """Absolute path of the bundled `orphanguard` launcher."""
    return os.path.join(_HERE, "bin", "orphanguard")


def library_path():
    """Absolute path of the bundled liborphanguard.so (the launcher finds it on its own)."""
    return os.path.join(_HERE, "lib", "orphanguard", "liborphanguard.so")
