"""Build of kitpose._C through CMake (pybind11's cmake_example pattern).

Environment:
  KITPOSE_CUDA=0   force a CPU-only build; =1 require CUDA; unset: CUDA when a compiler is found.
  KITPOSE_CUDA_ARCHS  override the CUDA architecture list (default "86;87;89;90", see CMakeLists.txt).
  CMAKE_ARGS       extra arguments passed to CMake as they are.
  DEBUG=1          debug build.
"""
import os
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name: str):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: CMakeExtension) -> None:
        out_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = Path(self.build_temp).resolve() / ext.name
        build_dir.mkdir(parents=True, exist_ok=True)
        cfg = "Debug" if os.environ.get("DEBUG") == "1" else "Release"
        args = [
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={out_dir}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-DCMAKE_BUILD_TYPE={cfg}",
            f"-DKITPOSE_CUDA={os.environ.get('KITPOSE_CUDA', 'AUTO')}",
        ]
        if os.environ.get("KITPOSE_CUDA_ARCHS"):
            args.append(f"-DCMAKE_CUDA_ARCHITECTURES={os.environ['KITPOSE_CUDA_ARCHS']}")
        args += [a for a in os.environ.get("CMAKE_ARGS", "").split() if a]
        try:
            import ninja  # noqa: F401  (the build requirement puts ninja on PATH)
            args.append("-GNinja")
        except ImportError:
            pass
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        subprocess.run(["cmake", str(ROOT), *args], cwd=build_dir, check=True)
        subprocess.run(["cmake", "--build", ".", "--config", cfg, "-j", jobs], cwd=build_dir, check=True)


def _packages() -> list[str]:
    """kitpose/* plus export/ and bench/, which ship as kitpose.export and kitpose.bench."""
    found = find_packages(include=["kitpose", "kitpose.*"])
    for top in ("export", "bench"):
        found += [f"kitpose.{top}"] + [f"kitpose.{top}.{p}" for p in find_packages(top)]
    return found


setup(
    packages=_packages(),
    # export/ and bench/ live at the top level of the repository but ship inside the wheel.
    package_dir={"kitpose": "kitpose", "kitpose.export": "export", "kitpose.bench": "bench"},
    # The embedded default model ships inside the package.
    package_data={"kitpose": ["assets/*.pt"]},
    ext_modules=[CMakeExtension("kitpose._C")],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
)
