"""The public API: every operator exists twice (vectorised + scalar reference) and errors share one base."""

import inspect

from offchain.engine import intmath


def test_every_vectorised_function_has_a_scalar_reference():
    names = set(intmath.__all__)
    funcs = {n for n in names if inspect.isfunction(getattr(intmath, n))}
    vectorised = {n for n in funcs if not n.endswith("_element") and n != "dtype_range"}
    assert vectorised, "no operators exported"
    missing = sorted(n for n in vectorised if f"{n}_element" not in funcs)
    assert not missing, f"no scalar reference for {missing}"
    orphans = sorted(n for n in funcs if n.endswith("_element") and n[: -len("_element")] not in funcs)
    assert not orphans, f"scalar references without a vectorised twin: {orphans}"


def test_errors_share_one_base():
    for name in ("DivisionError", "DomainError", "DTypeError", "FracBitsError", "OperandRangeError",
                 "RowShapeError", "ShiftRangeError"):
        err = getattr(intmath, name)
        assert issubclass(err, intmath.IntMathError) and issubclass(err, ValueError)
        assert err.__doc__
