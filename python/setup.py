# SPDX-License-Identifier: Apache-2.0
"""Tags the wheel for what it ships: two ELF files for one architecture, no Python ABI.

The version is the bundled launcher's `--version`; the platform is manylinux_X_Y_ARCH, where
X.Y is the highest GLIBC_X.Y symbol version either ELF file needs (objdump -T), so pip installs
the wheel exactly where the glibc is new enough.
"""
import os
import platform
import re
import subprocess

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
LAUNCHER = os.path.join(HERE, "orphanguard", "bin", "orphanguard")
LIBRARY = os.path.join(HERE, "orphanguard", "lib", "orphanguard", "liborphanguard.so")


def version():
    out = subprocess.run([LAUNCHER, "--version"], check=True, capture_output=True, text=True).stdout
    return out.split()[-1]


def glibc_floor():
    needed = set()
    for elf in (LAUNCHER, LIBRARY):
        # A statically linked launcher has no dynamic symbols (objdump: "not a dynamic object")
        # and needs no glibc at all; the library's symbols then set the floor alone.
        table = subprocess.run(["objdump", "-T", elf], capture_output=True, text=True).stdout
        needed.update(tuple(map(int, v)) for v in re.findall(r"GLIBC_(\d+)\.(\d+)", table))
    return max(needed)


class NativeDistribution(Distribution):
    """Native files: the wheel installs into platlib (Root-Is-Purelib: false), never as "any"."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    def get_tag(self):
        major, minor = glibc_floor()
        return "py3", "none", f"manylinux_{major}_{minor}_{platform.machine()}"


setup(version=version(), distclass=NativeDistribution, cmdclass={"bdist_wheel": PlatformWheel})
