"""The project's compiled parts: the exact integer matmul kernels (offchain/engine/_kernels.c) and the exact
SOFTMAX / LAYERNORM / RMSNORM row kernels (offchain/engine/_rowops.c).

Everything else is declared in pyproject.toml. ``pip install -e .`` (``make bootstrap``) builds the extension in
place; ``optional=True`` keeps the install working where no C compiler is present, and the engine then uses its
numpy path (offchain/engine/kernels.py, intmath_softmax.py, intmath_norm.py), which gives the same integers.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "offchain.engine._kernels",
            sources=["offchain/engine/_kernels.c"],
            depends=["offchain/engine/_isa.h", "offchain/engine/_pool.h"],
            # AVX2 code is enabled per function (target attributes) and chosen at run time, so the module
            # builds and imports on any x86-64 or other CPU.
            extra_compile_args=["-O3", "-std=c11", "-pthread"],
            extra_link_args=["-pthread"],
            optional=True,
        ),
        Extension(
            "offchain.engine._rowops",
            sources=["offchain/engine/_rowops.c"],
            depends=["offchain/engine/_isa.h", "offchain/engine/_pool.h"],
            # The row loops are compiled for x86-64-v4, x86-64-v3 and the baseline (per-function target
            # attributes); the best the CPU runs is chosen at import.
            extra_compile_args=["-O3", "-std=c11", "-pthread"],
            extra_link_args=["-pthread"],
            libraries=["m"],
            optional=True,
        ),
    ]
)
