"""Only the wheel's tag lives here (everything else is in pyproject.toml): a wheel that
carries libsdrt is platform-specific, so it is tagged py3-none-<platform> instead of
py3-none-any. The binding itself is pure Python (ctypes), hence py3 and no ABI tag."""

import os

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel

LIBRARIES = ("libsdrt.so", "libsdrt.dylib", "sdrt.dll")


def carries_library() -> bool:
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sdrt")
    return any(os.path.exists(os.path.join(here, name)) for name in LIBRARIES)


class LibraryDistribution(Distribution):
    # Binary content: the files install at the wheel's root (platlib), not under .data/.
    def has_ext_modules(self):
        return carries_library()


class PlatformWheel(bdist_wheel):
    def get_tag(self):
        python, abi, platform = super().get_tag()
        if carries_library():
            return "py3", "none", platform
        return python, abi, platform


setup(distclass=LibraryDistribution, cmdclass={"bdist_wheel": PlatformWheel})
