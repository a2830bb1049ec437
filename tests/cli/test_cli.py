"""`python -m offchain`: compile, run and roots print JSON that matches the library, in any process."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from click.testing import CliRunner

from offchain.cli import main
from offchain.engine.executor import run
from offchain.engine.ops import get_op
from offchain.engine.roots import graph_root, trace_root
from offchain.models.tiny import tiny_input, tiny_mlp


def test_compile_run_and_roots_agree_with_the_library(tmp_path):
    runner = CliRunner()
    path = tmp_path / "tiny.model"
    compiled = runner.invoke(main, ["compile", "tiny-mlp", "--out", str(path)])
    assert compiled.exit_code == 0, compiled.output
    info = json.loads(compiled.stdout)
    model = tiny_mlp()
    assert info["graph_root"] == "0x" + graph_root(model.graph).hex()
    assert info["nodes"] == len(model.graph.nodes)

    x = tiny_input()
    ran = runner.invoke(main, ["run", str(path), "--input", json.dumps(x.tolist()), "--trace"])
    assert ran.exit_code == 0, ran.output
    out = json.loads(ran.stdout)
    expected = run(model, [x])
    assert out["output"] == expected.output.tolist()
    assert out["trace_root"] == "0x" + trace_root(model.graph, expected).hex()
    assert len(out["trace_leaves"]) == len(model.graph.nodes)

    # Another process computes the same roots (determinism across processes).
    other = subprocess.run([sys.executable, "-m", "offchain", "run", str(path), "--npz",
                            str(path.with_suffix(".example.npz"))], capture_output=True, text=True, check=True)
    assert json.loads(other.stdout)["trace_root"] == out["trace_root"]

    roots = runner.invoke(main, ["roots", str(path)])
    assert json.loads(roots.stdout)["model_id"] == info["model_id"]


def test_bad_invocations_fail_with_clear_messages(tmp_path):
    runner = CliRunner()
    unknown = runner.invoke(main, ["compile", "gpt-9"])
    assert unknown.exit_code == 2 and "unknown model 'gpt-9'" in unknown.output
    path = tmp_path / "tiny.model"
    runner.invoke(main, ["compile", "tiny-mlp", "--out", str(path)])
    both = runner.invoke(main, ["run", str(path)])
    assert both.exit_code == 2 and "exactly one of --input" in both.output
    wrong_shape = runner.invoke(main, ["run", str(path), "--input", json.dumps(np.zeros((1, 3), int).tolist())])
    assert wrong_shape.exit_code != 0 and "shape" in str(wrong_shape.exception)


def test_public_view_keeps_the_roots_and_hides_the_private_weights(tmp_path):
    runner = CliRunner()
    path = tmp_path / "tiny.model"
    runner.invoke(main, ["compile", "tiny-mlp", "--out", str(path)])
    last = len(tiny_mlp().graph.nodes) - 1
    viewed = runner.invoke(main, ["public-view", str(path), "--private", str(last)])
    assert viewed.exit_code == 0, viewed.output
    info = json.loads(viewed.stdout)
    from offchain.engine.modelfile import load_model

    view = load_model(info["path"])
    model = tiny_mlp()
    assert info["graph_root"] == "0x" + graph_root(model.graph).hex()
    assert json.loads(runner.invoke(main, ["roots", str(path)]).stdout)["weights_root"] == info["weights_root"]
    assert not view.weights[-1].any() and not view.weights[-2].any()   # the last layer's W and b
    relu = runner.invoke(main, ["public-view", str(path), "--private", "1"])
    assert relu.exit_code == 2 and "only LINEAR and LOREFT" in relu.output


def test_profile_times_every_node_once(tmp_path):
    """`profile` reports each op kind with its node count and multiply-adds; the op times add up to the total."""
    try:  # the table goes to stderr; click < 8.2 mixes it into stdout unless told not to
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    path = tmp_path / "tiny.model"
    assert runner.invoke(main, ["compile", "tiny-mlp", "--out", str(path)]).exit_code == 0
    result = runner.invoke(main, ["profile", str(path), "--runs", "2", "--threads", "1"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    model = tiny_mlp()
    counts: dict[str, int] = {}
    for node in model.graph.nodes:
        counts[get_op(node.op).name] = counts.get(get_op(node.op).name, 0) + 1
    assert {o["op"]: o["nodes"] for o in info["ops"]} == counts
    assert abs(sum(o["seconds"] for o in info["ops"]) - info["total_s"]) < 1e-9
    linear = next(o for o in info["ops"] if o["op"] == "LINEAR")
    assert linear["macs"] == sum(int(np.prod(n.output.shape)) * n.in_specs[0].shape[-1]
                                 for n in model.graph.nodes if get_op(n.op).name == "LINEAR") > 0
    assert info["threads"] == 1 and info["runs"] == 2
    zero_runs = runner.invoke(main, ["profile", str(path), "--runs", "0"])
    assert zero_runs.exit_code == 2 and "--runs" in zero_runs.stderr
