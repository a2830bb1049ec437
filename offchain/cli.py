"""`python -m offchain` (or the `offchain` console script): compile, run and commit to integer models.

Every command prints JSON on stdout (progress goes to stderr), so its output can be piped into other tools.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import numpy as np
from rich.console import Console

from offchain.engine.executor import run
from offchain.engine.modelfile import load_model, save_model
from offchain.engine.move_gas import MAX_MOVE_GAS, MoveGasError, check_move_gas
from offchain.engine.roots import graph_root, input_root, model_id, trace_root, weights_root
from offchain.input_spec import INPUT_SPEC_HELP

err = Console(stderr=True)


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _model_roots(model) -> dict[str, str]:
    return {"graph_root": _hex(graph_root(model.graph)), "weights_root": _hex(weights_root(model)),
            "model_id": _hex(model_id(model))}


@click.group()
def main() -> None:
    """Deterministic integer ML models: compile from PyTorch, run exactly, commit with Merkle roots."""


def _write_model(model, example: list[np.ndarray], out: str | None, name: str) -> tuple[Path, dict[str, str]]:
    path = Path(out or f"build/models/{name}.model")
    path.parent.mkdir(parents=True, exist_ok=True)
    roots = _model_roots(model)
    save_model(model, path, roots)
    np.savez(path.with_suffix(".example.npz"), *example)
    return path, roots


def _summary(name: str, model, path: Path, roots: dict[str, str], worst, bound: int, start: float) -> dict:
    graph = model.graph
    return {
        "name": name, "path": str(path), "example_inputs": str(path.with_suffix(".example.npz")),
        "nodes": len(graph.nodes), "weights": len(graph.weights),
        "parameters": int(sum(w.size for w in model.weights)),
        "inputs": [{"shape": list(s.shape), "dtype": s.dtype.name.lower(), "frac": s.frac} for s in graph.inputs],
        "output": {"shape": list(graph.output.shape), "dtype": graph.output.dtype.name.lower(),
                   "frac": graph.output.frac},
        "worst_move": {"node": worst.node, "op": worst.op, "move": worst.move, "gas": worst.gas,
                       "calldata": worst.calldata, "bound": bound},
        **roots, "seconds": round(time.perf_counter() - start, 3),
    }


@main.command("compile")
@click.argument("name", required=False)
@click.option("--module", "module_ref", default=None, metavar="FILE.py:FACTORY",
              help="Compile your own PyTorch model: FILE.py:FACTORY or package.module:FACTORY, a function returning "
                   "an nn.Module or (nn.Module, example_inputs).")
@click.option("--exported", type=click.Path(dir_okay=False), default=None, metavar="MODEL.pt2",
              help="Compile a program saved with torch.export.save.")
@click.option("--input-spec", "input_specs", multiple=True, metavar="SHAPE:FORMAT",
              help="With --module/--exported. " + INPUT_SPEC_HELP)
@click.option("--calibration", default=None, metavar="FILE|FILE.py:FN",
              help="With --module/--exported: calibration samples, a .npy (one input, [N, *shape]), an .npz (one "
                   "array per input, in order) or FILE.py:FN / package.module:FN returning a list of input tuples. "
                   "The agreement printed is measured on them (default: the example inputs only).")
@click.option("--hf", "hf_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Compile a Hugging Face Llama-family checkpoint folder (llama, qwen2, mistral: config.json, "
                   "model.safetensors or its shards, tokenizer.json). The model takes --seq-len token ids.")
@click.option("--seq-len", type=click.IntRange(min=1), default=16, show_default=True,
              help="With --hf: the static prompt length (prompts are left-padded / cut to it).")
@click.option("--prompt", "--prompts", "prompts", multiple=True, metavar="TEXT",
              help="With --hf: a calibration prompt, tokenized with the folder's tokenizer.json (repeatable; "
                   "default: a built-in English set). The agreement printed is measured on them.")
@click.option("--weight-dtype", type=click.Choice(["int8", "int16"]), default=None,
              help="With --hf: the dtype of the Linear/Embedding weights (default int8; int16 doubles their bytes and "
                   "removes most of the integer model's error, see README).")
@click.option("--text-bytes", type=click.IntRange(min=1), default=None, metavar="N",
              help="With --hf: the model takes UTF-8 text of at most N bytes, tokenized inside the graph by the "
                   "folder's tokenizer.json (disputable BPE operators); output every position's logits.")
@click.option("--generate", "max_new", type=click.IntRange(1, 255), default=None, metavar="N",
              help="With --hf and --text-bytes: a text-GENERATING model (issue 15): the request is the prompt's "
                   "bytes then 16 parameter bytes, the answer the UTF-8 text of up to N new tokens, every decode "
                   "step in the disputable graph (--seq-len is then the prompt's token slots).")
@click.option("--top-k", type=click.IntRange(min=1), default=40, show_default=True,
              help="With --generate: the candidates kept for sampling (a request may ask for fewer).")
@click.option("--out-bytes", type=click.IntRange(min=1), default=None, metavar="B",
              help="With --generate: the answer's text bytes (default 8 per new token).")
@click.option("--all-positions", is_flag=True, default=False,
              help="With --hf: output the logits of every position [1, seq_len, vocab] (default: the last one).")
@click.option("--name", "model_name", default=None,
              help="With --module/--exported/--hf: the model's name (default: the factory's, the file's or the "
                   "folder's).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Model file to write (default: build/models/<name>.model).")
@click.option("--max-move-gas", type=click.IntRange(min=1, max=MAX_MOVE_GAS), default=MAX_MOVE_GAS,
              show_default=True, help="Refuse the model if an honest dispute move at any node may cost more gas "
              "than this (a tighter bound than the compiler's own, which refuses beyond the default).")
def compile_cmd(name: str | None, module_ref: str | None, exported: str | None, input_specs: tuple[str, ...],
                calibration: str | None, hf_dir: str | None, seq_len: int, prompts: tuple[str, ...],
                text_bytes: int | None, max_new: int | None, top_k: int, out_bytes: int | None, all_positions: bool,
                weight_dtype: str | None, model_name: str | None, out: str | None, max_move_gas: int) -> None:
    """Compile reference model NAME (see offchain.models), or your own with --module / --exported / --hf, into an
    integer model file (plus an .example.npz of integer inputs beside it); print its roots, size and, for your own
    model, the integer-vs-float agreement on the calibration data."""
    if sum(x is not None for x in (name, module_ref, exported, hf_dir)) != 1:
        raise click.UsageError("give exactly one of NAME (a reference model), --module, --exported or --hf")
    if hf_dir is None and (prompts or all_positions or seq_len != 16 or weight_dtype or text_bytes):
        raise click.UsageError("--seq-len, --prompt, --weight-dtype, --text-bytes and --all-positions apply only "
                               "with --hf")
    if (max_new is None) and (out_bytes is not None or top_k != 40):
        raise click.UsageError("--top-k and --out-bytes apply only with --generate")
    if hf_dir is not None:
        if input_specs or calibration:
            raise click.UsageError("--input-spec and --calibration do not apply to --hf (use --seq-len, --prompt)")
        if max_new is not None:
            if text_bytes is None or all_positions:
                raise click.UsageError("--generate needs --text-bytes (the prompt's bytes) and no --all-positions")
            _compile_generator(hf_dir, seq_len, text_bytes, max_new, top_k, out_bytes, prompts, weight_dtype,
                               model_name, out, max_move_gas)
            return
        _compile_hf(hf_dir, seq_len, prompts, all_positions, weight_dtype, model_name, out, max_move_gas, text_bytes)
        return
    if name is None:
        _compile_own(module_ref, exported, input_specs, calibration, model_name, out, max_move_gas)
        return
    if input_specs or calibration or model_name:
        raise click.UsageError("--input-spec, --calibration and --name apply only with --module or --exported "
                               "(--name also with --hf)")
    from offchain.models import REFERENCE_MODELS, build_reference

    if name not in REFERENCE_MODELS:
        raise click.BadParameter(f"unknown model {name!r}; known: {', '.join(REFERENCE_MODELS)}", param_hint="NAME")
    start = time.perf_counter()
    with err.status(f"building {name}"):
        try:
            built = build_reference(name)
            worst = check_move_gas(built.model, bound=max_move_gas)
        except MoveGasError as exc:
            raise click.ClickException(f"{name}: {exc}") from None
        path, roots = _write_model(built.model, built.example_inputs, out, name)
    click.echo(json.dumps(_summary(name, built.model, path, roots, worst, max_move_gas, start), indent=2))


def _compile_own(module_ref: str | None, exported: str | None, input_specs: tuple[str, ...],
                 calibration: str | None, model_name: str | None, out: str | None, max_move_gas: int) -> None:
    from offchain.engine.compiler import CompileConfig, compile_module
    from offchain.engine.compiler.agreement import agreement
    from offchain.engine.errors import CompileError
    from offchain.model_source import (ModelSourceError, example_inputs, load_calibration, load_exported,
                                       load_factory, parse_input_spec)

    start = time.perf_counter()
    try:
        specs = [parse_input_spec(s) for s in input_specs]
        if module_ref is not None:
            module, given = load_factory(module_ref)
            name = model_name or module_ref.rpartition(":")[2]
        else:
            module, given = load_exported(exported)
            name = model_name or Path(exported).stem
        example = example_inputs(specs, given)
        samples = load_calibration(calibration, example) if calibration else [example]
    except ModelSourceError as exc:
        raise click.BadParameter(str(exc), param_hint=exc.option) from None
    config = CompileConfig(input_specs=[s.fixed for s in specs] or None)
    with err.status(f"compiling {name}"):
        try:
            model = compile_module(module, example, samples, config, name=name)
            worst = check_move_gas(model, bound=max_move_gas)
        except CompileError as exc:   # its message names the model and lists every problem
            raise click.ClickException(str(exc)) from None
        except MoveGasError as exc:
            raise click.ClickException(f"{name}: {exc}") from None
        measured = agreement(module, model, samples)
        integer_example = run(model, [t.numpy() for t in example]).inputs   # quantised with the model's scales
        path, roots = _write_model(model, list(integer_example), out, name)
    summary = _summary(name, model, path, roots, worst, max_move_gas, start)
    summary["agreement"] = measured.as_dict()
    click.echo(json.dumps(summary, indent=2))


def _hf_compile_config(weight_dtype: str | None, max_move_gas: int):
    from offchain.engine.compiler import CompileConfig
    from offchain.engine.dtypes import DType

    config = CompileConfig(max_move_gas=max_move_gas)
    if weight_dtype is not None:
        config.weight_dtype = DType[weight_dtype.upper()]
    return config


def _compile_hf(folder: str, seq_len: int, prompts: tuple[str, ...], all_positions: bool, weight_dtype: str | None,
                model_name: str | None, out: str | None, max_move_gas: int, text_bytes: int | None = None) -> None:
    from offchain.engine.compiler.agreement import agreement
    from offchain.engine.errors import CompileError
    from offchain.models.bpe_errors import UnsupportedTokenizerError
    from offchain.models.hf_config import HFCheckpointError
    from offchain.models.hf_llama import compile_hf, compile_hf_text

    start = time.perf_counter()
    name = model_name or Path(folder).resolve().name
    with err.status(f"compiling {name}"):
        try:
            cfg = _hf_compile_config(weight_dtype, max_move_gas)
            if text_bytes is None:
                built = compile_hf(folder, seq_len, list(prompts) or None, all_positions, cfg, name=name)
            else:
                if all_positions:
                    raise click.UsageError("--text-bytes models output every position already; drop --all-positions")
                built = compile_hf_text(folder, text_bytes, seq_len, list(prompts) or None, cfg, name=name)
            worst = check_move_gas(built.model, bound=max_move_gas)
        except (HFCheckpointError, UnsupportedTokenizerError) as exc:   # names the field / tensor / file
            raise click.BadParameter(str(exc), param_hint="--hf") from None
        except CompileError as exc:
            raise click.ClickException(str(exc)) from None
        except MoveGasError as exc:
            raise click.ClickException(f"{name}: {exc}") from None
        ids_model = built.body or built
        measured = agreement(ids_model.module, ids_model.model, ids_model.samples)
        integer_example = run(built.model, [built.samples[0][0].numpy()]).inputs   # token ids / text bytes
        path, roots = _write_model(built.model, list(integer_example), out, name)
    summary = _summary(name, built.model, path, roots, worst, max_move_gas, start)
    summary["agreement"] = measured.as_dict()
    click.echo(json.dumps(summary, indent=2))


def _compile_generator(folder: str, seq_len: int, text_bytes: int, max_new: int, top_k: int, out_bytes: int | None,
                       prompts: tuple[str, ...], weight_dtype: str | None, model_name: str | None, out: str | None,
                       max_move_gas: int) -> None:
    from offchain.engine.errors import CompileError, GraphError
    from offchain.models.bpe_errors import UnsupportedTokenizerError
    from offchain.models.generate import (GenerationConfig, GenerationConfigError, compile_generator, generated_ids,
                                          generated_text, request_bytes, request_tensor)
    from offchain.models.hf_config import HFCheckpointError
    from offchain.models.hf_llama import DEFAULT_PROMPTS

    start = time.perf_counter()
    name = model_name or f"{Path(folder).resolve().name}-gen"
    with err.status(f"compiling {name}"):
        try:
            gc = GenerationConfig(prompt_bytes=text_bytes, prompt_tokens=seq_len, max_new=max_new, top_k=top_k,
                                  out_bytes=out_bytes)
            gen = compile_generator(folder, gc, list(prompts) or None, name=name,
                                    config=_hf_compile_config(weight_dtype, max_move_gas))
            worst = check_move_gas(gen.model, bound=max_move_gas)
        except (HFCheckpointError, UnsupportedTokenizerError, GenerationConfigError) as exc:
            raise click.BadParameter(str(exc), param_hint="--hf") from None
        except (CompileError, GraphError) as exc:
            raise click.ClickException(str(exc)) from None
        except MoveGasError as exc:
            raise click.ClickException(f"{name}: {exc}") from None
        prompt = (list(prompts) or list(DEFAULT_PROMPTS))[0].encode("utf-8")[:text_bytes].decode("utf-8", "ignore")
        example = request_tensor(gen, request_bytes(prompt, prompt_bytes=text_bytes))
        trace = run(gen.model, [example])
        path, roots = _write_model(gen.model, [example], out, name)
    summary = _summary(name, gen.model, path, roots, worst, max_move_gas, start)
    summary["generation"] = {**gen.model.meta["generation"], "example_prompt": prompt,
                             "example_ids": generated_ids(gen, trace), "example_text": generated_text(trace.output)}
    click.echo(json.dumps(summary, indent=2))


def _load_inputs(model, input_json: str | None, npz: str | None) -> list[np.ndarray]:
    if (input_json is None) == (npz is None):
        raise click.UsageError("give exactly one of --input (JSON) or --npz (file of arrays)")
    if npz is not None:
        with np.load(npz) as data:
            return [data[k] for k in sorted(data.files, key=lambda k: int(k.split("_")[1]))]
    values = json.loads(input_json)
    if len(model.graph.inputs) == 1:
        values = [values]
    return [np.asarray(v) for v in values]


@main.command("run")
@click.argument("model_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--input", "input_json", default=None,
              help="The input as JSON (nested lists; a list of them for several inputs). Integers are taken "
                   "as quantised values, floats as real values.")
@click.option("--npz", type=click.Path(exists=True, dir_okay=False), default=None,
              help="An .npz of the inputs in order (as `compile` writes next to the model).")
@click.option("--trace/--no-trace", default=False, help="Also print every node's output root.")
def run_cmd(model_file: str, input_json: str | None, npz: str | None, trace: bool) -> None:
    """Run MODEL_FILE on an input; print the output and the roots as JSON."""
    model = load_model(model_file)
    inputs = _load_inputs(model, input_json, npz)
    start = time.perf_counter()
    result = run(model, inputs)
    seconds = time.perf_counter() - start
    out = result.output
    payload = {
        "output": out.tolist(), "output_real": (out / 2.0 ** model.graph.output.frac).tolist(),
        "input_root": _hex(input_root(model.graph, result.inputs)),
        "trace_root": _hex(trace_root(model.graph, result)), **_model_roots(model),
        "seconds": round(seconds, 4),
    }
    if trace:
        from offchain.engine.roots import trace_leaves

        payload["trace_leaves"] = [_hex(leaf) for leaf in trace_leaves(model.graph, result)]
    click.echo(json.dumps(payload))


@main.command("profile")
@click.argument("model_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--input", "input_json", default=None, help="The input as JSON, as for `run`.")
@click.option("--npz", type=click.Path(exists=True, dir_okay=False), default=None,
              help="An .npz of the inputs in order (default: the example `compile` wrote next to the model).")
@click.option("--runs", type=click.IntRange(1, 1000), default=3, show_default=True,
              help="Timed runs after one warm-up; figures are per-node medians.")
@click.option("--threads", type=click.IntRange(1, 256), default=None,
              help="Threads for the matmul kernel (default: OFFCHAIN_KERNEL_THREADS or all CPUs).")
def profile_cmd(model_file: str, input_json: str | None, npz: str | None, runs: int, threads: int | None) -> None:
    """Time MODEL_FILE's forward per operator: a table on stderr, the same figures as JSON on stdout."""
    from rich.table import Table

    from offchain.engine import kernels
    from offchain.engine.profile import profile

    model = load_model(model_file)
    if input_json is None and npz is None:
        example = Path(model_file).with_suffix(".example.npz")
        if not example.exists():
            raise click.UsageError(f"give --input or --npz (no example inputs at {example})")
        npz = str(example)
    inputs = _load_inputs(model, input_json, npz)
    if threads is not None:
        kernels.set_threads(threads)
    result = profile(model, inputs, runs)
    table = Table(title=f"{model_file}: {result.total * 1e3:.1f} ms per forward (median of {runs}; matmul kernel "
                        f"{kernels.isa()}, {kernels.threads()} threads)")
    for col in ("op", "nodes", "ms", "share", "GMAC/s"):
        table.add_column(col, justify="left" if col == "op" else "right")
    for o in result.ops:
        rate = f"{o.macs / o.seconds / 1e9:.1f}" if o.macs and o.seconds else ""
        table.add_row(o.op, str(o.nodes), f"{o.seconds * 1e3:.2f}", f"{o.seconds / result.total:.1%}", rate)
    err.print(table)
    click.echo(json.dumps({"path": model_file, "kernel": kernels.isa(),
                           "threads": kernels.threads(), **result.as_dict()}, indent=2))


@main.command("roots")
@click.argument("model_file", type=click.Path(exists=True, dir_okay=False))
def roots_cmd(model_file: str) -> None:
    """Print MODEL_FILE's graph root, weights root and model id."""
    model = load_model(model_file)
    click.echo(json.dumps({"path": model_file, "nodes": len(model.graph.nodes), **_model_roots(model)}, indent=2))


@main.command("public-view")
@click.argument("model_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--private", "private_nodes", required=True,
              help="Comma-separated indices of the private nodes (LINEAR or LOREFT), e.g. 30,60.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="File to write (default: MODEL_FILE with .public.model).")
def public_view_cmd(model_file: str, private_nodes: str, out: str | None) -> None:
    """Write MODEL_FILE's public view: the private nodes' weights zeroed and kept as their roots only (what a
    challenger of a private model serves). Its graph and weights roots equal the model's."""
    from offchain.zk.private import PrivateNodeError, PrivateSpec
    from offchain.zk.public_view import public_view

    model = load_model(model_file)
    try:
        spec = PrivateSpec(tuple(int(i) for i in private_nodes.split(",")))
        from offchain.zk.model_proofs import descriptors

        descriptors(model, spec)   # each must be a LINEAR or LOREFT with weight operands
    except (ValueError, PrivateNodeError) as exc:
        raise click.BadParameter(str(exc), param_hint="--private") from None
    view = public_view(model, spec)
    path = Path(out or str(Path(model_file).with_suffix("")) + ".public.model")
    save_model(view, path, _model_roots(view))
    click.echo(json.dumps({"path": str(path), "private_nodes": list(spec.node_indices), **_model_roots(view)},
                          indent=2))


if __name__ == "__main__":
    sys.exit(main())


# ---------------------------------------------------------------- error callbacks (issue 18)
@main.command("decode-error")
@click.argument("data")
def decode_error_cmd(data: str) -> None:
    """Name a revert's DATA (0x...): any custom error of the project's contracts (from `ape compile`'s ABIs),
    Error(string) or Panic(uint256), with its arguments."""
    from offchain.chain.errors import decode_error

    try:
        print(json.dumps(decode_error(data)))
    except (ValueError, FileNotFoundError) as e:
        raise click.ClickException(str(e)) from e
