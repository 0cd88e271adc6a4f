"""Downloads against the fake Reddit's lying image endpoints, and the address policy."""

from __future__ import annotations

import asyncio

import pytest
from memethresher_crawler.fetch import AddressPolicy, Downloader, FetchError
from memethresher_crawler.settings import CrawlerSettings

from tests.support.fake_reddit import FakeReddit
from tests.support.images import image_bytes

LOOPBACK = AddressPolicy(allowed_networks=["127.0.0.1/32"])


def _fetch(url: str, policy: AddressPolicy = LOOPBACK, **settings: object) -> bytes:
    config = CrawlerSettings(read_timeout_s=0.5, total_timeout_s=2, max_image_bytes=1024 * 1024, **settings)

    async def go() -> bytes:
        async with Downloader(config, policy) as downloader:
            return await downloader.fetch(url, retries=1)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/bad/endless.jpg", "too large: over 1048576 bytes, download aborted"),
        ("/bad/huge.jpg", "too large: 10000000000 bytes declared"),
        ("/bad/stall.jpg", "timed out"),
        ("/bad/redirect-private.jpg", "169.254.169.254 is a private or internal address"),
        ("/bad/redirect-ftp.jpg", "only http(s) is followed"),
        ("/bad/redirect-loop.jpg", "more than 5 redirects"),
        ("/bad/missing.jpg", "HTTP 404"),
    ],
)
def test_bad_downloads_fail_with_a_reason(fake_reddit: FakeReddit, path: str, reason: str) -> None:
    with pytest.raises(FetchError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        _fetch(fake_reddit.base_url + path)


def test_redirects_and_retries_that_end_well(fake_reddit: FakeReddit) -> None:
    data = image_bytes("JPEG", seed=5)
    fake_reddit.add_image("ok.jpg", data)
    assert _fetch(f"{fake_reddit.base_url}/redirect/ok.jpg") == data
    assert _fetch(f"{fake_reddit.base_url}/bad/flaky.jpg") == image_bytes("JPEG", seed=9999)  # 503, then fine
    assert fake_reddit.image_requests["flaky.jpg"] == 2


def test_loopback_is_refused_unless_allowed(fake_reddit: FakeReddit) -> None:
    fake_reddit.add_image("ok.jpg", b"bytes")
    with pytest.raises(FetchError, match="127.0.0.1 is a private or internal address"):
        _fetch(f"{fake_reddit.base_url}/img/ok.jpg", AddressPolicy())
    assert _fetch(f"{fake_reddit.base_url}/img/ok.jpg", AddressPolicy(allow_all=True)) == b"bytes"


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("172.16.5.4", False),
        ("127.0.0.1", False),
        ("::1", False),
        ("169.254.169.254", False),
        ("fe80::1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
    ],
)
def test_address_policy(address: str, allowed: bool) -> None:
    assert AddressPolicy().address_allowed(address) is allowed


def test_retry_after_in_both_of_its_forms() -> None:
    from datetime import UTC, datetime

    from memethresher_crawler.fetch import RETRY_AFTER_MAX_S, retry_after

    now = datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert retry_after({"retry-after": "7"}, now) == 7.0
    assert retry_after({"retry-after": "Wed, 21 Oct 2026 07:28:30 GMT"}, now) == 30.0
    assert retry_after({"retry-after": "Wednesday, 21-Oct-26 07:29:00 GMT"}, now) == 60.0  # the obsolete form
    assert retry_after({"retry-after": "Wed, 21 Oct 2026 07:00:00 GMT"}, now) == 0.0  # already past
    assert retry_after({"retry-after": "Fri, 01 Jan 2100 00:00:00 GMT"}, now) == RETRY_AFTER_MAX_S
    assert retry_after({"retry-after": "99999999"}, now) == RETRY_AFTER_MAX_S
    for garbled in ("", "soon", "nan", "Wed, 99 Oct 2026 07:28:30 GMT"):
        assert retry_after({"retry-after": garbled}, now) is None
    assert retry_after({}, now) is None
