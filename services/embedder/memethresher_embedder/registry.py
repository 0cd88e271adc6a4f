"""The encoder registry lives in the shared package, so the API can validate a switch without torch."""

from memethresher_shared.encoder_registry import (
    _KNOWN,  # tests register weights of their own here
    OFFLINE_ENCODER,
    RANDOM_INIT_ARCHITECTURES,
    RANDOM_TAG,
    EncoderSpec,
    Family,
    known_encoders,
    parse_encoder_id,
)

__all__ = [
    "_KNOWN",
    "OFFLINE_ENCODER",
    "RANDOM_INIT_ARCHITECTURES",
    "RANDOM_TAG",
    "EncoderSpec",
    "Family",
    "known_encoders",
    "parse_encoder_id",
]
