import pytest
from memethresher_embedder.registry import OFFLINE_ENCODER, known_encoders, parse_encoder_id


def test_known_encoders_include_the_offline_and_siglip_models() -> None:
    assert {OFFLINE_ENCODER, "ViT-SO400M-14-SigLIP-384:webli", "ViT-B-16-SigLIP2:webli"} <= set(known_encoders())
    spec = parse_encoder_id("ViT-SO400M-14-SigLIP-384:webli")
    assert (spec.architecture, spec.tag, spec.family) == ("ViT-SO400M-14-SigLIP-384", "webli", "open_clip")
    assert parse_encoder_id(OFFLINE_ENCODER).family == "lite0"


def test_random_weights_are_allowed_for_benchmark_architectures_only() -> None:
    assert parse_encoder_id("ViT-SO400M-14-SigLIP-384:random").random_init
    with pytest.raises(ValueError, match="unknown encoder 'ViT-H-14:random'"):
        parse_encoder_id("ViT-H-14:random")


@pytest.mark.parametrize("bad", ["efficientnet_lite0", ":webli", "ViT-B-16-SigLIP2:", ""])
def test_malformed_ids_name_the_expected_form_and_the_known_ids(bad: str) -> None:
    with pytest.raises(ValueError, match="'<architecture>:<weights tag>'.*efficientnet_lite0:imagenet"):
        parse_encoder_id(bad)


def test_unknown_tag_is_refused_with_the_list() -> None:
    with pytest.raises(ValueError, match="known: efficientnet_lite0:imagenet"):
        parse_encoder_id("efficientnet_lite0:laion")
