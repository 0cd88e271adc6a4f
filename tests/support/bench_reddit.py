"""The fake Reddit as the crawl benchmark serves it: ~100 KB photographs on a lean image server,
listings from FakeReddit. Run as `python -m tests.support.bench_reddit`; it prints Reddit's www and OAuth
base URLs and the images' base URL."""

from __future__ import annotations

from tests.support.fake_reddit import FakeReddit

LISTING_CAP = 1000
WARMUP_SOURCES = 2  # r/warmup0, r/warmup1: one untimed crawl for each crawler process


def benchmark_images(posts: int, image_kb: int = 100, prefix: str = "b") -> dict[str, bytes]:
    """`posts` distinct JPEG photographs of about `image_kb` KB, named <prefix><n>.jpg."""
    bases = _photographs(image_kb)
    images = {}
    for n in range(posts):
        base = bases[n % len(bases)]
        # A JPEG comment segment makes each file distinct bytes while it stays the same picture.
        comment = f"{prefix} post {n}".encode()
        images[f"{prefix}{n}.jpg"] = base[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + base[2:]
    return images


def fill_for_benchmark(fake: FakeReddit, image_base_url: str, names: list[str], subreddit: str = "bench",
                       first: int = 0) -> None:  # fmt: skip
    """One image post per name (numbered from `first`), its image served from `image_base_url`."""
    from tests.support.reddit_posts import post

    urls = [f"{image_base_url}/img/{name}" for name in names]
    fake.add_posts(subreddit, [post(first + n, url, subreddit) for n, url in enumerate(urls)])


def _photographs(image_kb: int) -> list[bytes]:
    """scikit-image's sample photographs as JPEGs of about `image_kb` KB."""
    import io

    from PIL import Image
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.hubble_deep_field()]
    out = []
    for array in photos:
        image = Image.fromarray(array).convert("RGB")
        scale = 720 / max(image.size)  # about the size of a meme on Reddit
        image = image.resize((round(image.width * scale), round(image.height * scale)))
        for quality in (95, 90, 85, 80, 75, 70, 60, 50):
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=quality)
            if buffer.tell() <= image_kb * 1024:
                break
        out.append(buffer.getvalue())
    return out


def main() -> None:
    """Serve a benchmark fake Reddit until stdin closes; print its base URL and the images' first."""
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--image-kb", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--listing-cap", type=int, default=LISTING_CAP, help="posts per subreddit")
    parser.add_argument("--feed-window-s", type=float, default=60.0, help="one feed per client in this window")
    args = parser.parse_args()
    from tests.support.lean_images import LeanImageServer

    images = benchmark_images(args.posts, args.image_kb)
    warmup = benchmark_images(40, args.image_kb, prefix="w")  # a first, untimed crawl per crawler process
    image_server = LeanImageServer({**images, **warmup}, args.latency_ms / 1000).start()
    fake = FakeReddit()
    fake.doors.feed_window_s = args.feed_window_s
    names = list(images)
    # Reddit serves at most 1,000 posts of a listing, so the posts are spread over subreddits.
    for number, start in enumerate(range(0, len(names), args.listing_cap)):
        chunk = names[start : start + args.listing_cap]
        fill_for_benchmark(fake, image_server.base_url, chunk, f"bench{number}", first=start)
    warmup_names = list(warmup)
    for number in range(WARMUP_SOURCES):
        chunk = warmup_names[number::WARMUP_SOURCES]
        fill_for_benchmark(fake, image_server.base_url, chunk, f"warmup{number}", first=10**6 + 100 * number)
    fake.listing_latency_s = args.latency_ms / 1000
    with fake:
        print(fake.base_url, fake.oauth_url, image_server.base_url, flush=True)
        sys.stdin.read()
    image_server.stop()


if __name__ == "__main__":
    main()
