"""Task names and the queues they run on.

Services enqueue each other's work by name (`app.send_task(EMBED_BATCH, ...)`), so no
service imports another's code. The prefix before the dot routes the task to its queue.
"""

CRAWL_QUEUE = "crawl"
EMBED_QUEUE = "embed"
TRAIN_QUEUE = "train"
SCORE_QUEUE = "score"
QUEUES = (CRAWL_QUEUE, EMBED_QUEUE, TRAIN_QUEUE, SCORE_QUEUE)

# crawler
CRAWL_SOURCE = "crawler.crawl_source"  # (source_id: int)
CRAWL_DUE_SOURCES = "crawler.crawl_due_sources"  # () — beat: enqueue crawl_source for every due source
REDDIT_CHECK = "crawler.reddit_check"  # (target: str) — try each door to Reddit, keep the result at REDDIT_CHECK_KEY
REDDIT_CHECK_KEY = "memethresher:reddit-check"  # JSON: checked_at, target, modes [{mode, state, detail, budget}]

# embedder
EMBED_BATCH = "embedder.embed_batch"  # (meme_ids: list[int], encoder: str | None)
EMBED_MISSING = "embedder.embed_missing"  # () — re-embed memes with no vector for the current encoder
EMBED_PROMPTS = "embedder.embed_prompts"  # () — text vectors for taste prompts without one, then PROMPT_PRIOR

# trainer: training and acquisition
TRAIN = "trainer.train"  # (encoder: str | None) — coalesced, one at a time per encoder
MAKE_CURRENT = "trainer.make_current"  # (model_version_id: int) — under the training lock; rescores, new batch
SWEEP = "trainer.sweep"  # (encoder: str | None, grid: list[dict] | None) — group + chord over trainer workers
# () — a pending encoder switch: train once its vectors cover enough memes, compare, complete or reject
SWITCH_CHECK = "trainer.encoder_switch"
# (encoder: str | None) — score with the taste prompts while no model is trained from ratings
PROMPT_PRIOR = "trainer.prompt_prior"
# trainer: scoring
SCORE_MEMES = "scorer.score_memes"  # (meme_ids: list[int]) — score newly embedded memes with the current model
SCORE_ALL = "scorer.score_all"  # () — rescore everything with the current model, refill curation

ROUTES = {
    "crawler.*": {"queue": CRAWL_QUEUE},
    "embedder.*": {"queue": EMBED_QUEUE},
    "trainer.*": {"queue": TRAIN_QUEUE},
    "scorer.*": {"queue": SCORE_QUEUE},
}
