"""Small tokenizers of every supported family, trained here in about a second each, plus the two committed ones.

Each variant is a ``tokenizer.json`` dict shaped like a real checkpoint's: Llama-3 (Split regex + ByteLevel,
chat-header specials, BOS template), Qwen2 (its regex, ChatML markers, no template; without and with (qwen2_nfc) Qwen2's NFC
normalizer), GPT-2 with ``add_prefix_space``, Llama-2 legacy (Prepend + Replace normalizers, no
pre-tokenizer, Strip decoder) and Llama-2 new style (Metaspace prepend_scheme "first", no split).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from offchain.models.bpe import LLAMA3_PATTERN, QWEN2_PATTERN

MODELS = Path(__file__).resolve().parents[2] / "offchain" / "models"
COMMITTED = {"llm_small": MODELS / "llm_small" / "tokenizer.json", "llm_tiny_sp": MODELS / "llm_tiny_sp" / "tokenizer.json"}


@lru_cache(maxsize=1)
def corpus() -> tuple[str, ...]:
    import pydoc_data.topics as topics

    texts = [t for _, t in sorted(topics.topics.items())][:120]
    extra = ["naïve café résumé — “quotes” ‘x’ 日本語のテキスト 한국어 Ελληνικά русский текст 😀👍🏽 ",
             "I'm you're we've they'll she'd IT'S DON'T 12345 3.14159 ١٢٣ \r\n\t x  y   z"]
    return tuple(texts + extra * 20)


def _byte_level(pre, specials: list[str], template: str | None, vocab: int = 700, normalizer=None) -> dict:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(corpus()), trainer=trainer)
    if template:
        bos = template.split()[0]
        tok.post_processor = processors.TemplateProcessing(single=template, special_tokens=[(bos, tok.token_to_id(bos))])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return json.loads(tok.to_str())


def _sentencepiece(normalizer, pre, decoder, vocab: int = 450) -> dict:
    from tokenizers import Tokenizer, models, processors, trainers

    specials = ["<unk>", "<s>", "</s>"]
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoder
    trainer = trainers.BpeTrainer(vocab_size=vocab - 256, special_tokens=specials, limit_alphabet=80,
                                  show_progress=False)
    tok.train_from_iterator(list(corpus()), trainer=trainer)
    spec = json.loads(tok.to_str())
    learned = sorted(spec["model"]["vocab"].items(), key=lambda kv: kv[1])
    pieces = [p for p, _ in learned if p not in specials and p not in byte_tokens]
    spec["model"]["vocab"] = {p: i for i, p in enumerate(specials + byte_tokens + pieces)}
    rebuilt = Tokenizer.from_str(json.dumps(spec))
    rebuilt.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return json.loads(rebuilt.to_str())


@lru_cache(maxsize=None)
def variant(name: str) -> str:
    """The variant's tokenizer.json text."""
    from tokenizers import Regex, decoders, normalizers, pre_tokenizers

    if name in COMMITTED:
        return COMMITTED[name].read_text(encoding="utf-8")
    if name == "llama3_im":   # Llama-3 with ignore_merges, plus whole-word tokens no merge sequence makes
        spec = json.loads(variant("llama3"))
        spec["model"]["ignore_merges"] = True
        vocab = spec["model"]["vocab"]
        top = max(list(vocab.values()) + [t["id"] for t in spec["added_tokens"]])
        for k, token in enumerate(IM_WORDS):
            vocab.setdefault(token, top + 1 + k)
        return json.dumps(spec, ensure_ascii=False)
    # ---- tokenizer: added (issue 14)
    if name == "llama3_reserved":   # Llama-3 with its 256 reserved specials and the other chat markers, added as
        from tokenizers import Tokenizer   # tokenizers' add_special_tokens does (ids after the vocabulary)

        tok = Tokenizer.from_str(variant("llama3"))
        tok.add_special_tokens(list(LLAMA3_EXTRA_SPECIALS) + [f"<|reserved_special_token_{k}|>" for k in range(256)])
        return tok.to_str()
    if name == "llama3":
        pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3_PATTERN), "isolated"),
                                       pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        spec = _byte_level(pre, ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                                 "<|end_header_id|>", "<|eot_id|>"], "<|begin_of_text|> $A")
    elif name == "qwen2":
        pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2_PATTERN), "isolated"),
                                       pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        spec = _byte_level(pre, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], None)
    elif name == "qwen2_nfc":   # ---- tokenizer: nfc (issue 14): Qwen2 as released, with its NFC normalizer
        pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2_PATTERN), "isolated"),
                                       pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        spec = _byte_level(pre, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], None, normalizer=normalizers.NFC())
    elif name == "gpt2_prefix":
        spec = _byte_level(pre_tokenizers.ByteLevel(add_prefix_space=True), ["<|endoftext|>"], None)
    elif name == "llama2_legacy":
        spec = _sentencepiece(
            normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]), None,
            decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                               decoders.Strip(" ", 1, 0)]))
    elif name == "metaspace_first":
        spec = _sentencepiece(None, pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False),
                              decoders.Sequence([decoders.Metaspace(replacement="▁", prepend_scheme="first",
                                                                    split=False),
                                                 decoders.ByteFallback(), decoders.Fuse()]))
    else:
        raise KeyError(name)
    return json.dumps(spec, ensure_ascii=False)


#: Byte-level strings added to llama3_im's vocabulary (" zzqx", "zzqx", "!?!?", " café", "the"'s twin "thethe"):
#: words that are whole tokens though the merges would split them.
IM_WORDS = ("Ġzzqx", "zzqx", "!?!?", "ĠcafÃ©", "thethe", "qq")

# ---- tokenizer: added (issue 14)
#: Llama-3's chat / tool markers beside BOS, EOS and the header markers the llama3 variant already declares.
LLAMA3_EXTRA_SPECIALS = ("<|finetune_right_pad_id|>", "<|eom_id|>", "<|python_tag|>", "<|step_id|>", "<|image|>")

ALL = ("llm_small", "llm_tiny_sp", "llama3", "qwen2", "gpt2_prefix", "llama2_legacy", "metaspace_first",
       "qwen2_nfc")


def tokenizer(name: str):
    from tokenizers import Tokenizer

    return Tokenizer.from_str(variant(name))
