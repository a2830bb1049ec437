"""Text-to-image as one disputable graph (issue 16) on the committed digits diffusion model.

What these tests prove:
- the whole graph (prompt bytes -> MiniLM -> conditioning; seed -> NOISE; 10 x (denoiser, DDIM_STEP); PIXELS)
  produces exactly the image of the plain loop that runs the text front, the conditioning head and the denoiser
  with the engine on their own and applies NOISE / DDIM_STEP / PIXELS' Python definitions step by step (several
  prompts, seeds 0, 1, 2^64 - 1, a plain request without seed bytes = seed 0, arbitrary request bytes);
- the graph is what the model meta says: request INT8 [72] -> INT8 [64], K = 10 DDIM_STEP nodes sharing one copy
  of the denoiser's weights;
- the same seed gives the same image, another seed another image;
- "7", "seven", "the digit seven" and "a handwritten 7" give images the project's digits-cnn (integer model, input
  the pixel byte scaled back to 0..16) reads as 7 for most seeds; the integer images match the float sampler's
  (same initial noise) to within a few pixel levels;
- bad requests are refused by name (prompt over 64 bytes, NUL in the prompt, seed out of range, request too long).
"""

from __future__ import annotations

import numpy as np
import pytest

from offchain.engine.executor import run
from offchain.engine.ops import OpCode
from offchain.models import diffusion as D


@pytest.fixture(scope="module")
def im():
    return D.build_image_model()


@pytest.fixture(scope="module")
def cnn(digits_reference):
    return digits_reference("digits-cnn")[0]


def _graph_image(im, data: bytes) -> np.ndarray:
    return D.image_pixels(run(im.model, [D.request_tensor(data)]).output)


def _cnn_digit(cnn, image: np.ndarray) -> int:
    pixels16 = np.floor(image.astype(np.int64).reshape(1, 64) * 16 / 255 + 0.5).astype(np.int8)
    return int(run(cnn, [pixels16]).output.argmax())


def test_graph_layout(im):
    g = im.model.graph
    assert g.inputs[0].shape == (72,) and g.output.shape == (64,)
    ops = [n.op for n in g.nodes]
    assert ops.count(OpCode.NOISE) == 1 and ops.count(OpCode.DDIM_STEP) == 10 and ops.count(OpCode.PIXELS) == 1
    assert im.model.meta["image"] == {"width": 8, "height": 8, "channels": 1, "prompt_bytes": 64, "seed_bytes": 8,
                                      "steps": 10}
    # the denoiser's nodes appear 10 times, its weights once
    linears = [sum(n.op == OpCode.LINEAR for n in m.graph.nodes) for m in (im.text, im.cond, im.denoiser)]
    assert ops.count(OpCode.LINEAR) == linears[0] + linears[1] + 10 * linears[2]
    sizes = [sum(w.size for w in m.weights) for m in (im.text, im.cond, im.denoiser)]
    assert sum(w.size for w in im.model.weights) == sum(sizes) + sum(t.size for t in im.temb)


@pytest.mark.parametrize("prompt,seed", [("7", 0), ("seven", 1), ("a handwritten 3", 2), ("zero", 2**64 - 1),
                                         ("Zeichne eine Fünf, bitte", 12345)])
def test_graph_equals_reference_loop(im, prompt, seed):
    data = D.image_request(prompt, seed)
    got = _graph_image(im, data)
    want = D.reference_sample(im, data)
    assert got.dtype == np.uint8 and got.shape == (8, 8)
    np.testing.assert_array_equal(got, want)
    assert got.max() > 128 and got.min() < 64  # an image, not a flat field


def test_any_request_bytes_have_the_loop_image(im):
    """Arbitrary request bytes (invalid UTF-8, NULs inside, any seed bytes) are no refusal: graph == loop."""
    rng = np.random.default_rng(16)
    for data in [b"\xff\xfe seven", b"sev\0en" + bytes(57) + b"\x80" * 8, rng.bytes(72)]:
        np.testing.assert_array_equal(_graph_image(im, data), D.reference_sample(im, data))


def test_plain_request_is_seed_zero(im):
    plain = _graph_image(im, b"seven")
    np.testing.assert_array_equal(plain, _graph_image(im, D.image_request("seven", 0)))
    np.testing.assert_array_equal(plain, D.reference_sample(im, b"seven"))


def test_seed_determines_image(im):
    a = _graph_image(im, D.image_request("four", 7))
    np.testing.assert_array_equal(a, _graph_image(im, D.image_request("four", 7)))
    b = _graph_image(im, D.image_request("four", 8))
    assert (a != b).sum() > 8


@pytest.mark.parametrize("prompt", ["7", "seven", "the digit seven", "a handwritten 7"])
def test_sevens(im, cnn, prompt):
    seeds = range(10)
    digits = [_cnn_digit(cnn, _graph_image(im, D.image_request(prompt, s))) for s in seeds]
    assert sum(d == 7 for d in digits) >= 8, digits


def test_integer_matches_float_sampler(im):
    for prompt, seed in [("seven", 3), ("2", 4)]:
        got = _graph_image(im, D.image_request(prompt, seed)).astype(np.float64)
        want = D.float_pixels(D.float_sample(prompt, seed))
        assert np.abs(got - want).mean() < 2.0 and np.abs(got - want).max() <= 32, np.abs(got - want).max()


def test_refusals():
    with pytest.raises(D.ImageRequestError, match="65 UTF-8 bytes; the model reads at most 64"):
        D.image_request("x" * 65, 0)
    with pytest.raises(D.ImageRequestError, match="at most 64"):
        D.image_request("é" * 33, 0)
    with pytest.raises(D.ImageRequestError, match="NUL"):
        D.image_request("se\0ven", 0)
    with pytest.raises(D.ImageRequestError, match="seed"):
        D.image_request("seven", 2**64)
    with pytest.raises(D.ImageRequestError, match="seed"):
        D.image_request("seven", -1)
    with pytest.raises(D.ImageRequestError, match="73 bytes; the model takes 72"):
        D.request_tensor(bytes(73))
    assert D.image_request("x" * 64, 2**64 - 1) == b"x" * 64 + b"\xff" * 8
