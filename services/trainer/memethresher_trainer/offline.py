"""`memethresher offline`: train, score, acquire and evaluate on files, with no services running."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any

import click
import numpy as np
from memethresher_shared.settings import OVERALL

from memethresher_trainer import artifacts
from memethresher_trainer.acquire import STRATEGIES, propose
from memethresher_trainer.evaluate import auroc, pairwise_accuracy, precision_at_percentiles
from memethresher_trainer.export_files import export_files
from memethresher_trainer.files import InputError, json_lines, load_embeddings, load_labels, load_ratings
from memethresher_trainer.model import EnsembleConfig
from memethresher_trainer.score import WideModel, summarize
from memethresher_trainer.settings import TrainerSettings, get_trainer_settings
from memethresher_trainer.train import Pairs, fit, threshold_rows

EXISTING = click.Path(exists=True, path_type=Path)
# The trainer service's default, read from the field so the environment is not needed to build the CLI.
STRATEGY = TrainerSettings.model_fields["acquisition_strategy"].default
KEEP_FRACTION = TrainerSettings.model_fields["curation_top_fraction"].default


def clear_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Turn a bad input into `Error: <file>:<line>: <why>` and exit status 1, not a traceback."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except InputError as error:
            raise click.ClickException(str(error)) from None

    return run


def model_inputs(model_dir: Path, embeddings: Path) -> tuple[EnsembleConfig, WideModel, list[str], np.ndarray]:
    try:
        config = EnsembleConfig.from_dict(artifacts.read_config(model_dir))
        wide = artifacts.load_wide(model_dir)
    except (FileNotFoundError, OSError, ValueError, KeyError) as error:
        raise InputError(f"{model_dir}: not a usable model folder ({error})") from None
    ids, vectors = load_embeddings(embeddings)
    if vectors.shape[1] != config.dim:
        raise InputError(
            f"{embeddings}: vectors have dimension {vectors.shape[1]}, the model was trained on {config.dim}"
        )
    return config, wide, ids, vectors


@dataclass(frozen=True)
class Inputs:
    """The files a command reads: given one by one, or taken from an export folder."""

    embeddings: Path
    ratings: Path | None
    labels: Path | None
    from_export: bool  # then only one axis' ratings (overall unless asked), on memes with vectors, are used
    export: Path | None = None

    def pairs(self, index: dict[str, int], targets: dict[str, float], axis: str | None = None) -> Pairs:
        """The ratings on `axis`; without one, every line of a ratings file, or an export's overall ones."""
        assert self.ratings is not None
        axis = axis or (OVERALL if self.from_export else None)
        return load_ratings(self.ratings, index, targets, axis=axis, known_only=self.from_export)

    def decisions(self, index: dict[str, int], config: EnsembleConfig, axis: str) -> Pairs:
        """An export's keeps and discards on `axis` of memes with vectors, and on overall (with
        `library_keeps`) its library-folder memes never queued, as threshold rows on the model's one head:
        what the trainer service learns from besides the ratings (`data.load_decisions`)."""
        if self.export is None:
            return threshold_rows([])
        curation = lines_of(self.export / "curation.jsonl")
        queued = {str(item.get("sha256")) for item in curation}
        targets = {"kept": config.keep_target, "discarded": config.discard_target}
        rows = [(index[str(item.get("sha256"))], targets[item["status"]], 0) for item in curation
                if item.get("status") in targets and item.get("axis", OVERALL) == axis
                and str(item.get("sha256")) in index]  # fmt: skip
        if config.library_keeps and axis == OVERALL:
            memes = lines_of(self.export / "memes.jsonl")
            library = [str(item.get("sha256")) for item in memes if item.get("in_library")]
            rows += [(index[sha], config.keep_target, 0) for sha in library if sha in index and sha not in queued]
        return threshold_rows(rows)


def lines_of(path: Path) -> list[dict[str, Any]]:
    """An export file's records; none when it is missing or empty (nothing of that kind was exported)."""
    if not path.is_file() or not path.read_text().strip():
        return []
    return [item for _, item in json_lines(path)]


def head_of(config: EnsembleConfig, model_dir: Path, axis: str | None) -> int:
    """The model's output for `axis` (its first without one)."""
    if axis is None:
        return 0
    if axis not in config.axes:
        raise InputError(f"{model_dir}: the model has no head for axis {axis!r}; it has {list(config.axes)}")
    return config.axes.index(axis)


def inputs(export: Path | None, encoder: str | None, embeddings: Path | None, ratings: Path | None = None,
           labels: Path | None = None, need: tuple[str, ...] = ()) -> Inputs:  # fmt: skip
    """Files named by options win over those of `--export`; a file a command needs is asked for."""
    found = export_files(export, encoder) if export is not None else None
    chosen = Inputs(
        embeddings or (found.embeddings if found else None),  # type: ignore[arg-type]
        ratings or (found.ratings if found else None),
        labels or (found.labels if found else None),
        found is not None,
        export if found is not None else None,
    )
    for name in ("embeddings", *need):
        if getattr(chosen, name) is None:
            raise click.UsageError(f"give --{name} FILE, or --export DIR (a `memethresher export` folder)")
    return chosen


def axis_option(command: Callable[..., None]) -> Callable[..., None]:
    return click.option(
        "--axis", help="a rating axis: only its ratings, and the model's head for it (default: the first, overall)"
    )(command)


def export_options(command: Callable[..., None]) -> Callable[..., None]:
    command = click.option("--encoder", help="with --export: whose vectors (when it holds several)")(command)
    folder = click.Path(exists=True, file_okay=False, path_type=Path)
    return click.option("--export", type=folder, help="read a `memethresher export` folder's files")(command)


@click.group()
def offline() -> None:
    """Bring your own embeddings: learn a taste from rating files, score, pick pairs, evaluate."""


@offline.command()
@click.option("--embeddings", type=EXISTING, help=".npz with 'ids' (N) and 'vectors' (N x d)")
@click.option("--ratings", type=EXISTING, help='JSON lines {"a": id, "b": id, "choice": "a+"}')
@export_options
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="model folder")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--members", type=click.IntRange(min=1), help="default: the trainer's (MEMETHRESHER_ENSEMBLE_MEMBERS)")
@click.option("--hidden", type=click.IntRange(min=1), help="default: the trainer's (MEMETHRESHER_ENSEMBLE_HIDDEN)")
@axis_option
@clear_errors
def train(embeddings: Path | None, ratings: Path | None, export: Path | None, encoder: str | None, out: Path,
          seed: int, members: int | None, hidden: int | None, axis: str | None) -> None:  # fmt: skip
    """Train an ensemble; OUT gets weights.safetensors, config.json, metrics.json and the wide export.
    With --axis, on that axis' ratings only, into a model whose one head is named for it."""
    files = inputs(export, encoder, embeddings, ratings, need=("ratings",))
    ids, vectors = load_embeddings(files.embeddings)
    # The trainer service's recipe (EnsembleConfig's defaults, and MEMETHRESHER_ENSEMBLE_* where set).
    sizes = {k: v for k, v in {"members": members, "hidden": hidden}.items() if v is not None}
    config = get_trainer_settings().ensemble_config(vectors.shape[1], seed=seed, axes=(axis or OVERALL,), **sizes)
    index = {k: i for i, k in enumerate(ids)}
    pairs, decided = files.pairs(index, config.targets, axis), files.decisions(index, config, axis or OVERALL)
    if len(pairs) + len(decided) == 0:
        raise InputError(f"{files.ratings}: no ratings on axis {axis or OVERALL!r} over these embeddings")
    result = fit(vectors, Pairs.join(pairs, decided), config, keys=ids)
    metrics = dict(result.metrics, curve=[vars(point) for point in result.curve])
    artifacts.save(result.model, out, metrics)
    m = result.metrics
    held = f", validation loss {m['val_loss']:.4f}" if m["val_loss"] is not None else " (too few for validation)"
    on = f" on {axis}" if axis else ""
    also = f" and {len(decided)} keeps and discards" if len(decided) else ""
    print(f"trained on {len(pairs)} ratings{also}{on}{held}, best epoch {m['best_epoch']}; wrote {out}")


@offline.command()
@click.option("--model", "model_dir", required=True, type=EXISTING)
@click.option("--embeddings", type=EXISTING)
@export_options
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="CSV id,score,spread")
@click.option("--summary", type=click.Choice(["mean", "median"]), default="mean", show_default=True)
@axis_option
@clear_errors
def score(model_dir: Path, embeddings: Path | None, export: Path | None, encoder: str | None, out: Path,
          summary: str, axis: str | None) -> None:  # fmt: skip
    """Score every meme: the ensemble's mean (or median) score and the members' spread (on --axis)."""
    config, wide, ids, vectors = model_inputs(model_dir, inputs(export, encoder, embeddings).embeddings)
    centre, spread = summarize(wide.member_scores(vectors)[:, :, head_of(config, model_dir, axis)], summary)
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "score", "spread"])
        writer.writerows(zip(ids, centre.round(6), spread.round(6), strict=True))
    print(f"scored {len(ids)} memes; wrote {out}")


@offline.command()
@click.option("--model", "model_dir", required=True, type=EXISTING)
@click.option("--embeddings", type=EXISTING)
@click.option("--ratings", type=EXISTING, help="rated pairs, never proposed again")
@export_options
@click.option("--n", "n_pairs", required=True, type=click.IntRange(min=1))
@click.option("--strategy", type=click.Choice(STRATEGIES), default=STRATEGY, show_default=True)
@click.option("--max-per-meme", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--random-fraction", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="share of the pairs drawn at random (exploration)")  # fmt: skip
@click.option("--keep-fraction", default=KEEP_FRACTION, show_default=True,
              type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="share of the memes curation keeps (the decision epig aims at)")  # fmt: skip
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="JSON lines")
@axis_option
@clear_errors
def acquire(model_dir: Path, embeddings: Path | None, ratings: Path | None, export: Path | None,
            encoder: str | None, n_pairs: int, strategy: str, max_per_meme: int, seed: int,
            random_fraction: float, keep_fraction: float, out: Path, axis: str | None) -> None:  # fmt: skip
    """Choose N pairs to rate next (on --axis, with its head, never a pair rated on it); lines
    {"a", "b", "strategy", "acquisition"}."""
    files = inputs(export, encoder, embeddings, ratings, need=("ratings",))
    config, wide, ids, vectors = model_inputs(model_dir, files.embeddings)
    rated = files.pairs({k: i for i, k in enumerate(ids)}, config.targets, axis)
    member = wide.member_scores(vectors)[:, :, head_of(config, model_dir, axis)]
    proposal = propose(member, n_pairs, strategy, exclude=(rated.a, rated.b), max_per_meme=max_per_meme,
                       seed=seed, random_fraction=random_fraction, vectors=vectors,
                       keep_fraction=keep_fraction)  # fmt: skip
    with out.open("w") as handle:
        for a, b, value, by in zip(proposal.a, proposal.b, proposal.value, proposal.chosen_by, strict=True):
            line = {"a": ids[a], "b": ids[b], "strategy": str(by), "acquisition": float(value)}
            handle.write(json.dumps(line) + "\n")
    print(f"chose {len(proposal.a)} pairs by {strategy}; wrote {out}")


@offline.command()
@click.option("--model", "model_dir", required=True, type=EXISTING)
@click.option("--embeddings", type=EXISTING)
@click.option("--labels", type=EXISTING, help='JSON lines {"id": id, "good": true}')
@click.option("--ratings", type=EXISTING, help="also report pairwise accuracy on these")
@export_options
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@axis_option
@clear_errors
def evaluate(model_dir: Path, embeddings: Path | None, labels: Path | None, ratings: Path | None,
             export: Path | None, encoder: str | None, as_json: bool, axis: str | None) -> None:  # fmt: skip
    """AUROC of the scores against good/bad labels, precision at score percentiles, pairwise accuracy.
    With --export, its labels and ratings (pairwise accuracy) are used; with --axis, that axis' head
    and ratings."""
    files = inputs(export, encoder, embeddings, ratings, labels, need=("labels",))
    config, wide, ids, vectors = model_inputs(model_dir, files.embeddings)
    index = {k: i for i, k in enumerate(ids)}
    rows, good = load_labels(files.labels, index, known_only=files.from_export)  # type: ignore[arg-type]
    scores, _ = summarize(wide.member_scores(vectors)[:, :, head_of(config, model_dir, axis)])
    report: dict[str, Any] = {
        "labels": len(rows),
        "good": int(good.sum()),
        "auroc": auroc(scores[rows], good),
        "precision": precision_at_percentiles(scores[rows], good),
    }
    if files.ratings is not None:
        rated = files.pairs(index, config.targets, axis)
        report["pairwise_accuracy"] = pairwise_accuracy(scores, rated.a, rated.b, rated.target)
    if as_json:
        print(json.dumps(report, default=float).replace("NaN", "null"))
        return
    print(f"AUROC {report['auroc']:.4f} over {report['labels']} labels ({report['good']} good)")
    for name, value in report["precision"].items():
        print(f"precision of the top {100 - int(name[1:])}%: {value:.3f}")
    if "pairwise_accuracy" in report:
        print(f"pairwise accuracy: {report['pairwise_accuracy']:.3f}")
