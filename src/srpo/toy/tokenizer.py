"""The toy tokenizer: one token per character, plus a few single-token tags.

Vocabulary (ids are fixed by this order, so a rebuild gives the same ids):
    0 ``<pad>``, 1 ``<|endoftext|>`` (eos), 2 ``<unk>`` (special tokens);
    then every printable ASCII character plus ``\\n`` and ``\\t`` (one token each);
    then the added, non-special tokens in `ADDED_TOKENS` (``<think>``, ``</think>``, ``<answer>``,
    ``</answer>``, ```` ```python\\n ````, ```` ``` ````, four spaces), which decode back to their text.
Characters outside the set become ``<unk>``. The pre-tokenizer splits on `Regex(r"[\\s\\S]")` (every
character isolated) and `decoders.Fuse()` joins tokens without adding spaces, so decode(encode(s)) == s
for every string over the character set.

The chat template renders a conversation as ``Q: <user>\\nA: <assistant><eos>\\n`` and, with
``add_generation_prompt=True``, ends with ``A: ``; system messages are not rendered (the toy model was
never trained with one, and a long system prompt would only confuse a 2M-parameter model).
"""

from __future__ import annotations

import json
import string
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

PAD, EOS, UNK = "<pad>", "<|endoftext|>", "<unk>"
SPECIAL_TOKENS = (PAD, EOS, UNK)
CHARSET = tuple(c for c in string.printable if c not in "\r\x0b\x0c")  # 95 printable + \t + \n
ADDED_TOKENS = ("<think>", "</think>", "<answer>", "</answer>", "```python\n", "```", "    ")

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}Q: {{ message['content'] }}\n"
    "{% elif message['role'] == 'assistant' %}A: {{ message['content'] }}{{ eos_token }}\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}A: {% endif %}"
)


def build_tokenizer_object() -> Tokenizer:
    """The `tokenizers.Tokenizer` described in the module docstring."""
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + CHARSET)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in SPECIAL_TOKENS])
    tok.add_tokens([AddedToken(t, normalized=False, special=False) for t in ADDED_TOKENS])
    return tok


def save_tokenizer(out_dir: str | Path) -> None:
    """Write a `PreTrainedTokenizerFast` directory that `AutoTokenizer.from_pretrained` loads offline."""
    from transformers import PreTrainedTokenizerFast

    out = Path(out_dir)
    fast = PreTrainedTokenizerFast(tokenizer_object=build_tokenizer_object(), pad_token=PAD, eos_token=EOS,
                                   unk_token=UNK, model_max_length=1024, padding_side="left")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    # Older transformers (4.x) only know the name PreTrainedTokenizerFast; 5.x maps it to its backend.
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def vocab_size() -> int:
    """Number of token ids (specials + characters + added tokens)."""
    return len(SPECIAL_TOKENS) + len(CHARSET) + len(ADDED_TOKENS)
