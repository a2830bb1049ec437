"""`python -m offchain compile --module/--exported`: a model owner's own PyTorch model, one command."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from offchain.cli import main
from offchain.engine.compiler import CompileConfig, compile_module
from offchain.engine.compiler.agreement import agreement
from offchain.engine.dtypes import DType
from offchain.engine.executor import run
from offchain.engine.modelfile import load_model
from offchain.engine.roots import model_id

OWNER_FILE = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def net():
    torch.manual_seed(0)
    return Net()


def net_with_example():
    return net(), torch.full((1, 16), 0.5)


def samples():
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(1, 16, generator=g),) for _ in range(24)]


def not_a_module():
    return 42


class Sorts(nn.Module):
    def forward(self, x):
        y = torch.sort(x, dim=-1).values
        return torch.cumsum(y, dim=-1)


def sorts():
    return Sorts()
'''


@pytest.fixture
def owner_file(tmp_path):
    path = tmp_path / "owner_model.py"
    path.write_text(OWNER_FILE)
    return path


def _compile(*args: str):
    return CliRunner().invoke(main, ["compile", *args])


def _samples() -> list[tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(1, 16, generator=g),) for _ in range(24)]


def _net():
    torch.manual_seed(0)
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(16, 32)
            self.fc2 = nn.Linear(32, 4)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    return Net().eval()


def test_module_file_compiles_to_the_library_model_and_reports_agreement(owner_file, tmp_path):
    out = tmp_path / "own.model"
    done = _compile("--module", f"{owner_file}:net", "--input-spec", "1x16:float:f10",
                    "--calibration", f"{owner_file}:samples", "--out", str(out))
    assert done.exit_code == 0, done.output
    info = json.loads(done.stdout)
    module, samples = _net(), _samples()
    config = CompileConfig(input_specs=[(DType.INT16, 10)])
    example = (torch.randn(1, 16, generator=torch.Generator().manual_seed(0)),)   # what the spec builds
    expected = compile_module(module, example, samples, config, name="net")
    assert info["model_id"] == "0x" + model_id(expected).hex()
    assert (info["name"], info["nodes"], info["parameters"]) == ("net", 3, 16 * 32 + 32 + 32 * 4 + 4)
    assert info["inputs"] == [{"shape": [1, 16], "dtype": "int16", "frac": 10}]
    measured = agreement(module, expected, samples)
    assert info["agreement"] == measured.as_dict() and info["agreement"]["samples"] == 24
    assert info["agreement"]["argmax_agreement"] >= 0.95 and info["agreement"]["max_abs_logit_error"] < 0.1
    # The file and its example inputs run to the library's output.
    saved = load_model(out)
    with np.load(info["example_inputs"]) as data:
        ints = data["arr_0"]
    assert ints.dtype == np.int16 and np.array_equal(ints, np.floor(example[0].numpy() * 1024 + 0.5))
    assert np.array_equal(run(saved, [ints]).output, run(expected, [ints]).output)


def test_package_factory_with_its_own_example_and_npz_calibration(owner_file, tmp_path, monkeypatch):
    package = tmp_path / "ownerpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(OWNER_FILE)
    monkeypatch.syspath_prepend(str(tmp_path))
    calib = torch.cat([s[0] for s in _samples()]).numpy()   # [24, 16]: rows of a batch-1 input
    np.savez(tmp_path / "calib.npz", calib)
    done = _compile("--module", "ownerpkg.models:net_with_example", "--calibration", str(tmp_path / "calib.npz"),
                    "--name", "owners-net", "--out", str(tmp_path / "pkg.model"))
    assert done.exit_code == 0, done.output
    info = json.loads(done.stdout)
    expected = compile_module(_net(), (torch.full((1, 16), 0.5),), _samples(), name="owners-net")
    assert info["model_id"] == "0x" + model_id(expected).hex()
    assert load_model(tmp_path / "pkg.model").meta["name"] == "owners-net"


def test_exported_program_compiles_like_its_module(tmp_path):
    module, samples = _net(), _samples()
    example = (torch.full((1, 16), 0.5),)
    torch.export.save(torch.export.export(module, example), tmp_path / "net.pt2")
    np.save(tmp_path / "calib.npy", torch.stack([s[0] for s in samples]).numpy())   # [24, 1, 16]
    done = _compile("--exported", str(tmp_path / "net.pt2"), "--calibration", str(tmp_path / "calib.npy"),
                    "--input-spec", "1x16:int16:f11", "--out", str(tmp_path / "net.model"))
    assert done.exit_code == 0, done.output
    info = json.loads(done.stdout)
    expected = compile_module(module, example, samples, CompileConfig(input_specs=[(DType.INT16, 11)]))
    assert info["model_id"] == "0x" + model_id(expected).hex()   # same graph, same weights, same scales
    assert info["name"] == "net"
    assert info["agreement"] == agreement(module, expected, samples).as_dict()
    # Without --input-spec the program's own example inputs give the shapes; the input scale is calibrated.
    plain = _compile("--exported", str(tmp_path / "net.pt2"), "--name", "plain", "--out", str(tmp_path / "p.model"))
    assert plain.exit_code == 0, plain.output
    calibrated = compile_module(module, example, [example], name="plain")
    assert json.loads(plain.stdout)["model_id"] == "0x" + model_id(calibrated).hex()
    assert json.loads(plain.stdout)["agreement"]["samples"] == 1


def test_token_id_inputs(tmp_path):
    path = tmp_path / "text.py"
    path.write_text(textwrap.dedent('''
        import torch
        from torch import nn

        class Bag(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(50, 8)
                self.head = nn.Linear(8, 3)

            def forward(self, ids):
                return self.head(self.emb(ids).mean(dim=1))

        def bag():
            torch.manual_seed(0)
            return Bag()

        def texts():
            g = torch.Generator().manual_seed(2)
            return [torch.randint(0, 50, (1, 6), generator=g) for _ in range(8)]
    '''))
    done = _compile("--module", f"{path}:bag", "--input-spec", "1x6:int32", "--calibration", f"{path}:texts",
                    "--out", str(tmp_path / "bag.model"))
    assert done.exit_code == 0, done.output
    info = json.loads(done.stdout)
    assert info["inputs"] == [{"shape": [1, 6], "dtype": "int32", "frac": 0}]
    assert info["agreement"]["samples"] == 8 and info["agreement"]["argmax_agreement"] >= 0.75


@pytest.mark.parametrize("args, hint, says", [
    (["--module", "no/such/file.py:net", "--input-spec", "1x16:float"], "--module", "no such file: no/such/file.py"),
    (["--module", "{owner_file}:nett", "--input-spec", "1x16:float"], "--module",
     "has no 'nett' (it defines: Net, Sorts, net, net_with_example, not_a_module, samples, sorts)"),
    (["--module", "{owner_file}:not_a_module"], "--module",
     "not_a_module() returned a int; expected an nn.Module or (nn.Module, example_inputs)"),
    (["--module", "{owner_file}"], "--module", "is not FILE.py:NAME or package.module:NAME"),
    (["--module", "no_such_package_xyz.models:net"], "--module", "cannot import no_such_package_xyz.models"),
    (["--module", "{owner_file}:net", "--input-spec", "1x16"], "--input-spec", "'1x16' is not SHAPE:FORMAT"),
    (["--module", "{owner_file}:net", "--input-spec", "1x16:int8"], "--input-spec",
     "token ids are int32; a real input in int8 needs its frac bits, e.g. 1x16:int8:f4"),
    (["--module", "{owner_file}:net", "--input-spec", "1x0:float"], "--input-spec",
     "every dimension must be at least 1"),
    (["--module", "{owner_file}:net"], "--input-spec", "the model came without example inputs"),
    (["--module", "{owner_file}:net_with_example", "--input-spec", "1x8:float"], "--input-spec",
     "input 0: spec shape (1, 8) != example input shape (1, 16)"),
    (["--module", "{owner_file}:net_with_example", "--input-spec", "1x16:float", "--input-spec", "1x2:int32"],
     "--input-spec", "2 input specs for a model of 1 inputs"),
    (["--module", "{owner_file}:net_with_example", "--calibration", "{owner_file}:net"], "--calibration",
     "net() must return a non-empty list of input tuples, got Net"),
    (["--module", "{owner_file}:net_with_example", "--calibration", "{bad_npy}"], "--calibration",
     "array 0 has shape (5, 3); input 0 is (1, 16)"),
    (["--exported", "{owner_file}"], "--exported", "is not a saved torch.export program"),
])
def test_bad_owner_inputs_fail_naming_the_option(owner_file, tmp_path, args, hint, says):
    bad_npy = tmp_path / "bad.npy"
    np.save(bad_npy, np.zeros((5, 3), np.float32))
    done = _compile(*[a.format(owner_file=owner_file, bad_npy=bad_npy) for a in args])
    assert done.exit_code == 2, done.output
    assert f"Invalid value for {hint}" in done.output or f"Invalid value for '{hint}'" in done.output
    assert says in " ".join(done.output.split()), done.output


def test_usage_errors_and_an_unsupported_model_lists_every_problem(owner_file):
    both = _compile("tiny-mlp", "--module", f"{owner_file}:net")
    assert both.exit_code == 2 and "exactly one of NAME" in both.output
    neither = _compile()
    assert neither.exit_code == 2 and "exactly one of NAME" in neither.output
    stray = _compile("tiny-mlp", "--input-spec", "1x16:float")
    assert stray.exit_code == 2 and "apply only with --module or --exported" in stray.output
    tight = _compile("--module", f"{owner_file}:net", "--input-spec", "1x16:float", "--max-move-gas", "1000")
    assert tight.exit_code == 1
    assert tight.output.startswith("Error: net: 9 honest move(s) exceed the bound of 1,000 gas")
    refused = _compile("--module", f"{owner_file}:sorts", "--input-spec", "1x8:float")
    assert refused.exit_code == 1
    lines = refused.output.splitlines()
    assert lines[0] == "Error: cannot compile sorts: 2 unsupported op(s)"
    assert lines[1].startswith("  1. aten.sort.default at sort: module '<root>' (Sorts), ")
    assert lines[2].startswith("  2. aten.cumsum.default at cumsum: module '<root>' (Sorts), ")
    assert f"{owner_file}:" in lines[1] and "in forward: y = torch.sort(x, dim=-1).values" in lines[1]


def test_a_zoo_model_by_package_reference_is_the_zoo_compile(tmp_path, zoo_compiled):
    """The command a model owner types for offchain/models/zoo.py's mixer gives the model compile_zoo builds."""
    from offchain.models import zoo

    done = _compile("--module", "offchain.models.zoo:mixer", "--input-spec", zoo.DIGITS_INPUT_SPEC,
                    "--calibration", "offchain.models.zoo:digits_calibration", "--name", "zoo-mixer",
                    "--out", str(tmp_path / "mixer.model"))
    assert done.exit_code == 0, done.output
    info = json.loads(done.stdout)
    assert info["model_id"] == "0x" + model_id(zoo_compiled("mixer")).hex()
    assert info["inputs"] == [{"shape": [1, 1, 8, 8], "dtype": "int8", "frac": 4}]
    assert info["agreement"]["samples"] == zoo.CALIBRATION_SAMPLES and info["agreement"]["argmax_agreement"] >= 0.99
