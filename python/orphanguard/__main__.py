# SPDX-License-Identifier: Apache-2.0
"""The `orphanguard` command of the wheel: replaces this Python process with the bundled launcher."""
import os
import signal
import sys

from . import binary_path


def main():
    # Python ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across exec: give the
    # launcher (and so CMD) the dispositions the shell gave us.
    for name in ("SIGPIPE", "SIGXFSZ"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    launcher = binary_path()
    try:
        os.execv(launcher, [launcher] + sys.argv[1:])
    except OSError as error:
        sys.stderr.write(f"orphanguard: cannot run {launcher}: {error.strerror}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
