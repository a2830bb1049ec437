"""ERC-7007 art: an image collection's tokenURI is on-chain JSON whose SVG shows exactly the finalized pixel bytes
(checked by parsing it and by rendering it in headless Chromium), its prompt attribute is Python's
`decode("utf-8", "replace")` of the prompt text, and only this model's finalized image for this prompt and seed
mints; the mint fee reaches the model's token holders."""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import subprocess
import xml.etree.ElementTree as ET

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from revenue_setup import AMOUNTS, INTERVAL, LIFETIME, PERCENT_CLAIMABLE, paid_to, take_snapshot

from offchain.chain.encoding import EncodingError
from offchain.chain.encoding import image_request as encode_image_request
from offchain.image import (
    DIGITS_IMAGE,
    NOT_AN_IMAGE,
    ImageError,
    ImageLayout,
    parse_request,
    png_bytes,
    terminal_image,
)

MODEL_ID = 9


def image_request(prompt: str, seed: int) -> bytes:
    """The digits image model's request input (DIGITS_IMAGE: 64 prompt bytes, 8 seed bytes)."""
    return encode_image_request(prompt, DIGITS_IMAGE.prompt_bytes, seed)


MINT_FEE = 3 * 10**15
REQUEST_ID = 5
SVG_NS = "{http://www.w3.org/2000/svg}"
#: Every byte value 0, 4, .., 252 once, then a flat run: a gradient and a run-length row in one image.
GRADIENT = bytes(range(0, 256, 4))


def proof(request_id: int) -> bytes:
    return encode(["uint256"], [request_id])


def digit_like(seed: int) -> bytes:
    """An 8x8 image with runs of equal bytes (background) and arbitrary strokes, as the diffusion model gives."""
    rng = random.Random(seed)
    return bytes(0 if rng.random() < 0.5 else rng.randrange(256) for _ in range(64))


@pytest.fixture
def oracle(project, owner):
    """Test double of the oracle's IInferenceResults; tests finalize results directly."""
    return owner.deploy(project.InferenceResultsDouble)


@pytest.fixture
def factory(project, owner, model_owner, user):
    factory = owner.deploy(project.ModelTokenFactory, owner)
    factory.grantRole(keccak(text="REGISTRAR_ROLE"), owner, sender=owner)
    offering = ("Digits Diffusion", "DDIF", [model_owner.address, user.address], [AMOUNTS[0], AMOUNTS[1]],
                PERCENT_CLAIMABLE, INTERVAL, LIFETIME)
    factory.createToken(MODEL_ID, offering, sender=owner)
    return factory


@pytest.fixture
def revenue_token(project, factory):
    return project.ModelRevenueToken.at(factory.tokenOf(MODEL_ID))


@pytest.fixture
def deploy_collection(project, owner, oracle, factory):
    def deploy(layout: ImageLayout = DIGITS_IMAGE, name: str = "Digits Art"):
        return owner.deploy(project.AIGCCollection, name, "DART", oracle, factory, MODEL_ID, MINT_FEE,
                            layout.as_tuple())

    return deploy


@pytest.fixture
def art(deploy_collection):
    return deploy_collection()


@pytest.fixture
def harness(project, owner):
    return owner.deploy(project.ArtLibHarness)


def mint_finalized(art, oracle, owner, user, prompt: bytes, pixels: bytes, request_id: int = REQUEST_ID):
    """Finalizes (prompt -> pixels) on the oracle double and mints it; returns the token id."""
    oracle.finalize(request_id, MODEL_ID, prompt, pixels, sender=owner)
    return art.mint(user, prompt, pixels, proof(request_id), value=MINT_FEE, sender=user).return_value


def metadata(art, token_id) -> dict:
    uri = art.tokenURI(token_id)
    prefix = "data:application/json;base64,"
    assert uri.startswith(prefix)
    return json.loads(base64.b64decode(uri[len(prefix):], validate=True).decode("utf-8"))


def attributes(meta: dict) -> dict:
    pairs = [(a["trait_type"], a["value"]) for a in meta["attributes"]]
    assert len(pairs) == len(dict(pairs)), "each trait once"
    return dict(pairs)


def svg_of(meta: dict) -> bytes:
    prefix = "data:image/svg+xml;base64,"
    assert meta["image"].startswith(prefix)
    return base64.b64decode(meta["image"][len(prefix):], validate=True)


def pixels_from_svg(svg: bytes, width: int, height: int) -> bytes:
    """Paints the SVG's rects onto a width x height canvas (XML parse; every pixel must be painted exactly once)."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("viewBox") == f"0 0 {width} {height}"
    assert root.get("shape-rendering") == "crispEdges"
    canvas: list[int | None] = [None] * (width * height)
    for rect in root:
        assert rect.tag == f"{SVG_NS}rect"
        x, y, w, h = (int(rect.get(k)) for k in ("x", "y", "width", "height"))
        fill = rect.get("fill")
        assert h == 1 and len(fill) == 7 and fill[1:3] == fill[3:5] == fill[5:7], fill
        for i in range(x, x + w):
            assert 0 <= i < width and 0 <= y < height and canvas[y * width + i] is None, (i, y)
            canvas[y * width + i] = int(fill[1:3], 16)
    assert None not in canvas
    return bytes(canvas)


PROMPTS = [
    ("plain", b"a seven"),
    ("quotes and backslashes", b'say "7" \\ or \\"8\\"'),
    ("newlines and controls", b"line one\nline two\r\ttab \x01\x1f\x7f"),
    ("utf-8", "sieben \u00e9 \u4e03 \U0001f3a8 \u2028".encode()),
    ("invalid bytes", b"\xff\xfe bad \xc0\xaf overlong \xed\xa0\x80 surrogate \xe2\x82 cut \xf4\x90\x80\x80 big \x80"),
    ("truncated at the end", b"ends mid-sequence \xf0\x9f\x8e"),
    ("empty", b""),
    ("exactly 64 bytes", b"x" * 64),
]


@pytest.mark.parametrize("text", [p for _, p in PROMPTS], ids=[name for name, _ in PROMPTS])
def test_token_uri_is_json_with_the_prompt_seed_ids_and_svg(art, oracle, owner, user, text):
    seed = 2**64 - 1 if len(text) % 2 else 12345
    prompt = text.ljust(64, b"\x00") + seed.to_bytes(8, "big")
    pixels = digit_like(len(text))
    token_id = mint_finalized(art, oracle, owner, user, prompt, pixels)
    meta = metadata(art, token_id)
    assert set(meta) == {"name", "description", "image", "attributes"}
    assert meta["name"] == f"Digits Art #{REQUEST_ID}"
    assert f"model {MODEL_ID}" in meta["description"] and f"request {REQUEST_ID}" in meta["description"]
    assert attributes(meta) == {
        "model id": str(MODEL_ID),
        "request id": str(REQUEST_ID),
        "output hash": "0x" + keccak(pixels).hex(),
        "prompt": text.decode("utf-8", "replace"),
        "seed": str(seed),
    }
    assert pixels_from_svg(svg_of(meta), 8, 8) == pixels


def test_a_short_prompt_reads_zero_padded_and_text_stops_at_the_first_zero(art, oracle, owner, user):
    # The oracle pads a short input to the model's 72 bytes, so the seed of a 10-byte input is 0.
    token_id = mint_finalized(art, oracle, owner, user, b"seven\x00tail", GRADIENT)
    assert parse_request(b"seven\x00tail") == (b"seven", 0)
    assert attributes(metadata(art, token_id))["prompt"] == "seven"
    assert attributes(metadata(art, token_id))["seed"] == "0"


def test_the_collection_name_is_escaped_too(deploy_collection, oracle, owner, user):
    art = deploy_collection(name='Art "quoted" \\ \n\u00ff')
    token_id = mint_finalized(art, oracle, owner, user, image_request("x", 1), GRADIENT)
    assert metadata(art, token_id)["name"] == f'Art "quoted" \\ \n\xff #{REQUEST_ID}'


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(
    st.binary(max_size=40),
    st.text(max_size=20).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.lists(st.sampled_from([b"\xc2", b"\xe0", b"\xed", b"\xf0", b"\xf4", b"\x80", b"\xa0", b"\x90", b"\xbf",
                              b"\x8f", b"\x9f", b"a", b'"', b"\\", b"\n"]), max_size=12).map(b"".join),
))
def test_escape_is_pythons_utf8_replace_as_a_json_string(harness, data):
    body = bytes(harness.escape(data))
    assert json.loads(b'"' + body + b'"') == data.decode("utf-8", "replace")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(width=st.integers(1, 12), height=st.integers(1, 12), seed=st.integers(0, 2**32))
def test_the_svg_paints_every_pixel_once_with_its_byte(harness, width, height, seed):
    rng = random.Random(seed)
    pixels = bytes(rng.choice((0, 0, 0, 255, rng.randrange(256))) for _ in range(width * height))
    svg = bytes(harness.render(pixels, width, height))
    assert pixels_from_svg(svg, width, height) == pixels
    root = ET.fromstring(svg)
    assert (root.get("width"), root.get("height")) == (str(32 * width), str(32 * height))


def chromium_screenshot(tmp_path, image_uri: str, width: int, height: int, scale: int) -> Image.Image:
    """Headless Chromium's screenshot of the SVG data URI shown as a marketplace does (<img>), `scale` CSS px per
    image pixel, on a red page (so an unpainted pixel cannot pass for a gray one)."""
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("headless Chromium not found: `make test` installs it (apt-get install -y chromium), or set "
                    "CHROMIUM=/path/to/chromium")
    page = tmp_path / "art.html"
    page.write_text(f'<!doctype html><html><body style="margin:0;background:#ff0000">'
                    f'<img src="{image_uri}" width="{width * scale}" height="{height * scale}" '
                    f'style="display:block"></body></html>')
    shot = tmp_path / "art.png"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
         "--force-device-scale-factor=1", "--force-color-profile=srgb", f"--user-data-dir={tmp_path / 'profile'}",
         # Headless Chromium's window size includes ~90 px of (invisible) browser UI above the viewport.
         f"--window-size={width * scale + 200},{height * scale + 300}",
         f"--screenshot={shot}", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    return Image.open(shot).convert("RGB")


@pytest.mark.parametrize("pixels", [GRADIENT, digit_like(7), bytes(64), b"\xff" * 64],
                         ids=["gradient", "digit-like", "black", "white"])
def test_headless_chromium_renders_the_token_uri_svg_to_the_output_pixels(
    art, oracle, owner, user, tmp_path, pixels
):
    token_id = mint_finalized(art, oracle, owner, user, image_request("a four", 4), pixels)
    scale = 8
    shot = chromium_screenshot(tmp_path, metadata(art, token_id)["image"], 8, 8, scale)
    rendered = []
    for y in range(8):
        for x in range(8):
            # Centre and the block's inner corners: crispEdges gives flat blocks, no blending with neighbours.
            samples = {shot.getpixel((x * scale + dx, y * scale + dy)) for dx in (1, 4, 6) for dy in (1, 4, 6)}
            assert len(samples) == 1, (x, y, samples)
            r, g, b = samples.pop()
            assert r == g == b, (x, y, (r, g, b))
            rendered.append(r)
    assert bytes(rendered) == pixels
    assert shot.getpixel((8 * scale + 2, 2)) == (255, 0, 0), "nothing painted beyond the image"


def test_verify_accepts_only_this_models_finalized_image_for_this_prompt_and_seed(art, oracle, owner, user):
    prompt, pixels = image_request("a three", 3), digit_like(3)
    assert not art.verify(prompt, pixels, proof(REQUEST_ID))
    with ape.reverts(art.OutputNotFinalized, requestId=REQUEST_ID):
        art.mint(user, prompt, pixels, proof(REQUEST_ID), value=MINT_FEE, sender=user)
    oracle.finalize(REQUEST_ID, MODEL_ID, prompt, pixels, sender=owner)
    oracle.finalize(REQUEST_ID + 1, MODEL_ID + 1, prompt, pixels, sender=owner)
    assert art.verify(prompt, pixels, proof(REQUEST_ID))

    other_model, other_text, other_seed = proof(REQUEST_ID + 1), image_request("a tree", 3), image_request("a three", 4)
    assert not art.verify(prompt, pixels, other_model)
    with ape.reverts(art.WrongModel, requestId=REQUEST_ID + 1, expected=MODEL_ID, actual=MODEL_ID + 1):
        art.mint(user, prompt, pixels, other_model, value=MINT_FEE, sender=user)
    for other in (other_text, other_seed):
        assert not art.verify(other, pixels, proof(REQUEST_ID))
        with ape.reverts(art.PromptMismatch, requestId=REQUEST_ID, inputHash=keccak(prompt),
                         promptHash=keccak(other)):
            art.mint(user, other, pixels, proof(REQUEST_ID), value=MINT_FEE, sender=user)
    changed = bytes([pixels[0] ^ 1]) + pixels[1:]
    with ape.reverts(art.OutputMismatch, requestId=REQUEST_ID, outputHash=keccak(pixels), aigcDataHash=keccak(changed)):
        art.mint(user, prompt, changed, proof(REQUEST_ID), value=MINT_FEE, sender=user)


def test_an_image_collection_takes_only_its_layouts_sizes(art, oracle, owner, user):
    long_prompt, short_image = image_request("a one", 1) + b"\x00", bytes(63)
    for prompt, pixels in ((long_prompt, bytes(64)), (image_request("a one", 1), short_image)):
        oracle.finalize(REQUEST_ID, MODEL_ID, prompt, pixels, sender=owner)
        assert not art.verify(prompt, pixels, proof(REQUEST_ID))
    with ape.reverts(art.PromptTooLong, length=73, max=72):
        art.mint(user, long_prompt, bytes(64), proof(REQUEST_ID), value=MINT_FEE, sender=user)
    with ape.reverts(art.ImageSizeMismatch, length=63, expected=64):
        art.mint(user, image_request("a one", 1), short_image, proof(REQUEST_ID), value=MINT_FEE, sender=user)


@pytest.mark.parametrize("layout", [(8, 0, 64, 8), (0, 8, 0, 0), (0, 0, 64, 8), (0, 0, 0, 1), (33, 8, 64, 8),
                                    (8, 33, 64, 8), (8, 8, 1025, 8), (8, 8, 64, 33)])
def test_a_bad_image_layout_is_refused_at_deployment(project, owner, oracle, factory, layout):
    with ape.reverts(project.AIGCCollection.BadImageLayout, width=layout[0], height=layout[1],
                     promptBytes=layout[2], seedBytes=layout[3]):
        owner.deploy(project.AIGCCollection, "X", "X", oracle, factory, MODEL_ID, MINT_FEE, layout)


def test_the_mint_fee_reaches_the_revenue_token_and_its_holders_claim_it(
    art, oracle, owner, user, model_owner, stranger, chain, revenue_token
):
    received = revenue_token.totalRevenueReceived()
    user_before = user.balance
    receipt = art.mint(user, *_finalized(oracle, owner, "a nine", 9), value=MINT_FEE, sender=user)
    assert user.balance == user_before - MINT_FEE - receipt.total_fees_paid
    assert revenue_token.totalRevenueReceived() == received + MINT_FEE
    assert revenue_token.balance == MINT_FEE and art.balance == 0

    snapshot = take_snapshot(chain, revenue_token, stranger)
    claimable = MINT_FEE * PERCENT_CLAIMABLE // 10_000
    supply = AMOUNTS[0] + AMOUNTS[1]
    for holder, amount in ((model_owner, AMOUNTS[0]), (user, AMOUNTS[1])):
        owed = claimable * amount // supply
        assert revenue_token.claimableRevenue(holder, snapshot) == owed
        before = holder.balance
        assert paid_to(holder, revenue_token.claim(snapshot, sender=holder), before) == owed


def _finalized(oracle, owner, text: str, seed: int):
    prompt, pixels = image_request(text, seed), digit_like(seed)
    oracle.finalize(REQUEST_ID, MODEL_ID, prompt, pixels, sender=owner)
    return prompt, pixels, proof(REQUEST_ID)


def test_rebinding_replaces_the_request_and_pixels_in_the_metadata_and_says_so(art, oracle, owner, user):
    prompt = image_request("a two", 2)
    token_id = mint_finalized(art, oracle, owner, user, prompt, digit_like(1))
    oracle.finalize(REQUEST_ID + 1, MODEL_ID, prompt, digit_like(2), sender=owner)
    receipt = art.addAigcData(token_id, prompt, digit_like(2), proof(REQUEST_ID + 1), sender=user)
    assert [log._tokenId for log in art.MetadataUpdate.from_receipt(receipt)] == [token_id]   # ERC-4906
    meta = metadata(art, token_id)
    assert attributes(meta)["request id"] == str(REQUEST_ID + 1)
    assert pixels_from_svg(svg_of(meta), 8, 8) == digit_like(2)


def test_a_non_image_collections_token_uri_is_json_without_an_image(deploy_collection, oracle, owner, user):
    plain = deploy_collection(NOT_AN_IMAGE, name="Labels")
    assert plain.imageLayout() == NOT_AN_IMAGE.as_tuple()
    output = b"\x07"
    token_id = mint_finalized(plain, oracle, owner, user, b"\x01\x02 any input", output)
    meta = metadata(plain, token_id)
    assert set(meta) == {"name", "description", "attributes"}
    assert attributes(meta) == {"model id": str(MODEL_ID), "request id": str(REQUEST_ID),
                                "output hash": "0x" + keccak(output).hex()}
    with ape.reverts(plain.ERC721NonexistentToken, tokenId=token_id + 1):
        plain.tokenURI(token_id + 1)


def test_token_uri_gas(art, deploy_collection, oracle, owner, user):
    """tokenURI's eth_call gas: 8x8 (the digits model) with every pixel its own run, and the 32x32 cap with every
    pixel its own run and a 1024-byte prompt of 4-byte characters (the largest metadata a collection can have).
    README states both."""
    assert art.imageLayout() == DIGITS_IMAGE.as_tuple()
    token_id = mint_finalized(art, oracle, owner, user, image_request("\u00e9" * 32, 2**64 - 1), GRADIENT)
    gas_8 = art.tokenURI.estimate_gas_cost(token_id, sender=owner)
    big = deploy_collection(ImageLayout(32, 32, 1024, 32))
    worst = bytes((i * 7) % 256 for i in range(1024))   # neighbours always differ: 1024 rects
    prompt = "\U0001f3a8".encode() * 256 + b"\xff" * 32    # 1024 bytes of 4-byte characters, a 32-byte seed
    oracle.finalize(REQUEST_ID + 1, MODEL_ID, prompt, worst, sender=owner)
    big_id = big.mint(user, prompt, worst, proof(REQUEST_ID + 1), value=MINT_FEE, sender=user).return_value
    gas_32 = big.tokenURI.estimate_gas_cost(big_id, sender=owner)
    meta = metadata(big, big_id)
    assert pixels_from_svg(svg_of(meta), 32, 32) == worst
    assert attributes(meta)["seed"] == str(2**256 - 1)
    print(f"tokenURI gas: 8x8 {gas_8}, 32x32 worst case {gas_32}")
    assert gas_8 < 1_100_000
    assert gas_32 < 20_000_000


def test_image_helpers(tmp_path):
    prompt = image_request("a five", 2**64 - 1)
    assert len(prompt) == 72 and parse_request(prompt) == (b"a five", 2**64 - 1)
    for bad in (lambda: image_request("x" * 65, 0), lambda: image_request("x", 2**64)):
        with pytest.raises(EncodingError):
            bad()
    for bad in (lambda: parse_request(bytes(73)), lambda: png_bytes(bytes(63))):
        with pytest.raises(ImageError):
            bad()
    path = tmp_path / "img.png"
    path.write_bytes(png_bytes(GRADIENT, scale=3))
    with Image.open(path) as png:
        assert png.mode == "L" and png.size == (24, 24)
        assert bytes(png.getpixel((3 * (i % 8) + 1, 3 * (i // 8) + 2)) for i in range(64)) == GRADIENT
    rows = terminal_image(GRADIENT)
    assert rows.plain == ("\u2580" * 16 + "\n") * 4
    first = rows.spans[0].style
    assert first == f"rgb({GRADIENT[0]},{GRADIENT[0]},{GRADIENT[0]}) on rgb({GRADIENT[8]},{GRADIENT[8]},{GRADIENT[8]})"
