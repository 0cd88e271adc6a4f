"""The text tower of an open_clip encoder: taste prompts in, unit vectors in the image space out.

SigLIP embeds text and images into one space, so a prompt's vector can be compared with the memes'.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F

Tokenizer = Callable[[list[str]], torch.Tensor]


class TextTowerUnavailable(RuntimeError):
    """The encoder has no text tower here: it has none, or the setting dropped it."""


class TextTower:
    """An open_clip model without its image tower, and the tokenizer it was trained with."""

    def __init__(self, model: torch.nn.Module, tokenizer: Tokenizer, device: torch.device, dtype: torch.dtype) -> None:
        self.model = model.eval().requires_grad_(False).to(device, dtype)
        self.tokenizer = tokenizer
        self.device = device
        self.dtype = dtype

    @torch.inference_mode()
    def encode(self, texts: list[str]) -> np.ndarray:
        """(P, D) L2-normalised float32 vectors of `texts`."""
        tokens = self.tokenizer(texts).to(self.device)  # (P, context length)
        encode_text = cast(Callable[[torch.Tensor], torch.Tensor], cast(Any, self.model).encode_text)
        # The weights are already in `dtype` (bf16 beside a bf16 image tower): no autocast needed.
        vectors = encode_text(tokens)  # (P, D)
        return F.normalize(vectors.float(), dim=-1).cpu().numpy()


def split_text_tower(model: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The image tower, and the rest of `model` (which still encodes text) without it."""
    visual = cast(torch.nn.Module, model.visual)
    del model.visual  # the text half must not hold (or move) the image tower's weights
    return visual, model


def load_tokenizer(architecture: str, cache_dir: str | None) -> Tokenizer:
    """open_clip's tokenizer for `architecture`: Hugging Face's when its config names one (the released
    SigLIP models: needs `transformers` and the tokenizer files, cached like the weights), else open_clip's
    bundled BPE vocabulary (the tiny test architecture), which needs nothing from outside."""
    import open_clip

    text_cfg = (open_clip.get_model_config(architecture) or {}).get("text_cfg", {})
    if text_cfg.get("hf_tokenizer_name"):
        if importlib.util.find_spec("transformers") is None:
            raise TextTowerUnavailable(
                f"{architecture}'s tokenizer needs the `transformers` package: pip install transformers"
            )
        return cast(Tokenizer, open_clip.get_tokenizer(architecture, cache_dir=cache_dir))
    return cast(Tokenizer, open_clip.SimpleTokenizer(context_length=int(text_cfg.get("context_length", 77))))
