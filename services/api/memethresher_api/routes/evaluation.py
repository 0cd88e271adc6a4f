"""JSON endpoints of the evaluation page: memes to label, labels, and the report per model."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from memethresher_shared.encoder_state import serving_encoder
from memethresher_shared.models import EvaluationLabel, Meme, ModelVersion
from memethresher_shared.versions import current_version

from memethresher_api import evaluation_data, queries
from memethresher_api.deps import IdPath, SessionDep, SettingsDep, field_error, not_found
from memethresher_api.schemas import EvaluationLabelIn, EvaluationMemeOut

router = APIRouter(prefix="/api/evaluation", tags=["evaluation"])


@router.get("/next", response_model=EvaluationMemeOut, responses={404: {"description": "All labelled"}})
def next_meme(session: SessionDep, settings: SettingsDep) -> EvaluationMemeOut:
    """A random embedded meme neither labelled nor rated (a rated meme may be training data)."""
    meme = evaluation_data.next_unlabelled(session, serving_encoder(settings.embedder))
    if meme is None:
        not_found("every embedded meme is labelled or rated; labels measure a model on memes it never learnt from")
    return EvaluationMemeOut(meme=queries.meme_out(meme), labelled=evaluation_data.label_count(session))


@router.post("/labels", status_code=201, response_model=dict[str, Any])
def put_label(body: EvaluationLabelIn, session: SessionDep) -> dict[str, Any]:
    """Label a meme good or bad (labelling again replaces the verdict)."""
    if session.get(Meme, body.meme_id) is None:
        field_error("body", "meme_id", f"no meme with id {body.meme_id}")
    label = session.get(EvaluationLabel, body.meme_id)
    if label is None:
        session.add(EvaluationLabel(meme_id=body.meme_id, good=body.good))
    else:
        label.good = body.good
    session.flush()
    return {"meme_id": body.meme_id, "good": body.good, "labelled": evaluation_data.label_count(session)}


@router.delete("/labels/{meme_id}", response_model=dict[str, Any])
def delete_label(meme_id: IdPath, session: SessionDep) -> dict[str, Any]:
    """Undo a label."""
    label = session.get(EvaluationLabel, meme_id)
    if label is None:
        field_error("path", "meme_id", f"meme {meme_id} has no label", status=404)
    session.delete(label)
    session.flush()
    return {"meme_id": meme_id, "labelled": evaluation_data.label_count(session)}


def model_for_report(session: SessionDep, encoder: str, model_version_id: int | None) -> ModelVersion:
    if model_version_id is not None:
        model = session.get(ModelVersion, model_version_id)
        if model is None:
            field_error("query", "model_version_id", f"no model version {model_version_id}", status=404)
        return model
    current = current_version(session, encoder)
    if current is None:
        not_found("no model has been trained yet")
    return current


@router.get("/report", response_model=dict[str, Any])
def get_report(
    session: SessionDep,
    settings: SettingsDep,
    model_version_id: int | None = Query(default=None, ge=1, le=2**31 - 1),
) -> dict[str, Any]:
    """AUROC, precision at the top and by score percentile, for one model version (default: current)."""
    model = model_for_report(session, serving_encoder(settings.embedder), model_version_id)
    return evaluation_data.report(session, model).as_json()
