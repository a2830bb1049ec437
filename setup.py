"""The project's one compiled part: the exact integer matmul kernels (offchain/engine/_kernels.c).

Everything else is declared in pyproject.toml. ``pip install -e .`` (``make bootstrap``) builds the extension in
place; ``optional=True`` keeps the install working where no C compiler is present, and the engine then uses its
numpy path (offchain/engine/kernels.py), which gives the same integers.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "offchain.engine._kernels",
            sources=["offchain/engine/_kernels.c"],
            # AVX2 code is enabled per function (target attributes) and chosen at run time, so the module
            # builds and imports on any x86-64 or other CPU.
            extra_compile_args=["-O3", "-std=c11", "-pthread"],
            extra_link_args=["-pthread"],
            optional=True,
        )
    ]
)
