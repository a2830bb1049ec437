"""Reference models, by name: how to build each one's integer model and an example input.

| name            | what                                                        | input              |
|-----------------|-------------------------------------------------------------|--------------------|
| tiny-mlp        | hand-built 16-24-24-24-4 integer MLP (tests, quick demos)   | int8 [1, 16]       |
| digits-mlp      | 64-64-32-10 MLP trained on scikit-learn's digits            | 64 pixels 0..16    |
| digits-cnn      | small CNN trained on the same digits                        | 64 pixels 0..16    |
| minilm          | all-MiniLM-L6-v2 sentence embeddings (real weights), with   | UTF-8 text, <= 256 |
|                 | its WordPiece tokenizer as graph ops (128 tokens)           | bytes              |
| llama-tiny      | Llama-style decoder, dim 64, 2 layers, seeded int8 weights  | token ids          |
| llama-tiny-loreft | llama-tiny + a LoReFT intervention after every layer      | token ids          |
|                 | (the private part: offchain/models/llama_loreft.py)         |                    |
| llama-7b-layer  | one Llama-2-7B-sized decoder layer (d 4096, ffn 11008)      | hidden states      |
| digits-diffusion| text-to-image: MiniLM text front + a DDPM MLP denoiser on   | prompt <= 64 bytes |
|                 | the digits, NOISE + 10 DDIM steps + PIXELS in one graph     | + 8-byte seed      |

Builders import torch only when they need it, so loading this table is cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from offchain.engine.model import Model


class UnknownModelError(KeyError):
    """No reference model has this name."""


@dataclass
class Built:
    """An integer model plus example inputs (integers in the model's input dtypes) to run it on."""

    model: Model
    example_inputs: list[np.ndarray]


def _tiny_mlp() -> Built:
    from offchain.models.tiny import tiny_input, tiny_mlp

    return Built(tiny_mlp(), [tiny_input()])


def digits_built(model: Model, test_pixels: np.ndarray) -> Built:
    """A digits model's Built: its example input is the first test image (int8 [1, 64])."""
    return Built(model, [test_pixels[:1].astype(np.int8)])


def _digits(name: str) -> Callable[[], Built]:
    def build() -> Built:
        from offchain.models import digits

        model, _, data = digits.build(name)
        return digits_built(model, data.test_pixels)

    return build


def _minilm() -> Built:
    from offchain.models import minilm
    from offchain.models.text_tables import text_input

    model = minilm.build_text_model()
    return Built(model, [text_input(minilm.sample_sentences()[4], minilm.TEXT_BYTES)])


def _llama_tiny() -> Built:
    from offchain.engine.compiler import compile_module
    from offchain.models import llama

    cfg = llama.preset("tiny")
    module = llama.build_llama(cfg, seed=1)
    prompts = [llama.random_prompt(cfg, s) for s in range(4)]
    model = compile_module(module, (prompts[0],), [(p,) for p in prompts])
    model.meta["name"] = "llama-tiny"
    return Built(model, [prompts[0].numpy()])


def _llama_tiny_loreft() -> Built:
    from offchain.models.llama_loreft import llama_tiny_loreft

    model, prompt = llama_tiny_loreft()
    return Built(model, [prompt])


def _llama_7b_layer() -> Built:
    import torch

    from offchain.engine.compiler import compile_module
    from offchain.models import llama

    cfg = llama.preset("7b")
    block = llama.SingleLayer(cfg, llama.build_layer(cfg, seed=1, index=0)).eval()
    gen = torch.Generator().manual_seed(0)
    hidden = [(torch.randn(1, cfg.max_seq, cfg.dim, generator=gen),) for _ in range(2)]
    model = compile_module(block, hidden[0], hidden)
    model.meta["name"] = "llama-7b-layer"
    x = hidden[0][0].numpy()
    spec = model.graph.inputs[0]
    q = np.clip(np.round(x * 2.0**spec.frac), spec.dtype.qmin, spec.dtype.qmax).astype(spec.dtype.numpy)
    return Built(model, [q])


def _digits_diffusion() -> Built:
    from offchain.models import diffusion

    im = diffusion.build_image_model()
    return Built(im.model, [diffusion.request_tensor(diffusion.image_request("a handwritten seven", 7))])


REFERENCE_MODELS: dict[str, Callable[[], Built]] = {
    "tiny-mlp": _tiny_mlp,
    "digits-mlp": _digits("digits-mlp"),
    "digits-cnn": _digits("digits-cnn"),
    "minilm": _minilm,
    "llama-tiny": _llama_tiny,
    "llama-tiny-loreft": _llama_tiny_loreft,
    "llama-7b-layer": _llama_7b_layer,
    "digits-diffusion": _digits_diffusion,
}


def build_reference(name: str) -> Built:
    """Builds reference model `name` (training or compiling it as needed). Raises UnknownModelError."""
    try:
        builder = REFERENCE_MODELS[name]
    except KeyError:
        raise UnknownModelError(f"unknown reference model {name!r}; known: {', '.join(REFERENCE_MODELS)}") from None
    return builder()
