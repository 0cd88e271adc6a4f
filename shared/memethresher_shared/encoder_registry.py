"""Which encoders exist: an id is "<architecture>:<weights tag>", as in open_clip. Pure data, no torch:
the API validates a switch with it, the embedder loads what it names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OFFLINE_ENCODER = "efficientnet_lite0:imagenet"
RANDOM_TAG = "random"
Family = Literal["lite0", "open_clip"]


@dataclass(frozen=True)
class EncoderSpec:
    """An encoder's identity and the code path that loads it."""

    encoder_id: str
    architecture: str
    tag: str
    family: Family
    description: str

    @property
    def random_init(self) -> bool:
        return self.tag == RANDOM_TAG

    @property
    def has_text_tower(self) -> bool:
        """Whether the encoder embeds text in its image space (open_clip models do; EfficientNet does not),
        so taste prompts can score memes."""
        return self.family == "open_clip"


_KNOWN: dict[str, tuple[Family, str]] = {
    OFFLINE_ENCODER: (
        "lite0",
        "ImageNet EfficientNet-Lite0 shipped in a PyPI package; works offline, 1280-d",
    ),
    "ViT-SO400M-14-SigLIP-384:webli": (
        "open_clip",
        "SigLIP SO400M at 384 px; best taste, wants a GPU, 1152-d",
    ),
    "ViT-SO400M-16-SigLIP2-384:webli": (
        "open_clip",
        "SigLIP 2 SO400M at 384 px; SigLIP's successor, wants a GPU, 1152-d",
    ),
    "ViT-B-16-SigLIP2:webli": ("open_clip", "SigLIP 2 base at 224 px; lighter, fine on a CPU, 768-d"),
    "tiny-siglip:random": ("open_clip", "tiny random-init open_clip model for tests; learns nothing"),
}

# open_clip architectures that may run with random weights (benchmarks, tests).
RANDOM_INIT_ARCHITECTURES = (
    "tiny-siglip",
    "ViT-SO400M-14-SigLIP-384",
    "ViT-SO400M-16-SigLIP2-384",
    "ViT-B-16-SigLIP",
    "ViT-B-16-SigLIP2",
)


def known_encoders() -> list[str]:
    return list(_KNOWN)


def parse_encoder_id(encoder_id: str) -> EncoderSpec:
    """The spec for an encoder id; a ValueError lists the known ids for anything else."""
    architecture, sep, tag = encoder_id.partition(":")
    if not sep or not architecture or not tag:
        raise ValueError(f"encoder id {encoder_id!r} is not '<architecture>:<weights tag>'; known: {_listing()}")
    if encoder_id in _KNOWN:
        family, description = _KNOWN[encoder_id]
        return EncoderSpec(encoder_id, architecture, tag, family, description)
    if tag == RANDOM_TAG and architecture in RANDOM_INIT_ARCHITECTURES:
        return EncoderSpec(encoder_id, architecture, tag, "open_clip", "random-init weights for benchmarks")
    raise ValueError(f"unknown encoder {encoder_id!r}; known: {_listing()}")


def _listing() -> str:
    return ", ".join(_KNOWN)
