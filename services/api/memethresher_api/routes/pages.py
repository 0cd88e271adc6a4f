"""Server-rendered pages (small dependency-free JavaScript does the rest) and the login form."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from memethresher_shared.encoder_state import serving_encoder
from memethresher_shared.models import ModelVersion
from memethresher_shared.versions import current_version

from memethresher_api import evaluation_data, queries
from memethresher_api.deps import SessionDep, SettingsDep
from memethresher_api.key_hints import four_mode, key_hint
from memethresher_api.security import COOKIE, session_value, token_matches

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


def _page(request: Request, name: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"page": name.removesuffix(".html"), **context})


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/rate", status_code=303)


@router.get("/rate", response_class=HTMLResponse)
def rate_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    axes = list(settings.all_axes) if settings.rating_axes else []  # none: one judgement, no axis prompt
    config = {"keys": settings.key_map, "axes": axes, "prefetch": settings.prefetch_pairs}
    config["four"] = four_mode(settings.key_map)
    return _page(request, "rate.html", config=config, key_hint=key_hint(settings.key_map))


@router.get("/curate", response_class=HTMLResponse)
def curate_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    return _page(request, "curate.html", library_dir=str(settings.library_dir), axes=list(settings.all_axes))


@router.get("/evaluate", response_class=HTMLResponse)
def evaluate_page(request: Request, session: SessionDep) -> HTMLResponse:
    models = list(session.query(ModelVersion).order_by(ModelVersion.id.desc()))
    return _page(request, "evaluate.html", models=models)


@router.get("/evaluate/report", response_class=HTMLResponse)
def evaluate_report(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    model_version_id: int | None = Query(default=None, ge=1, le=2**31 - 1),
) -> HTMLResponse:
    """The report of one model version as an HTML fragment with inline SVG plots."""
    model = (
        session.get(ModelVersion, model_version_id)
        if model_version_id
        else current_version(session, serving_encoder(settings.embedder))
    )
    report = evaluation_data.report(session, model) if model is not None else None
    return _page(request, "report.html", report=report, model=model)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    return _page(request, "dashboard.html", stats=queries.stats(session, serving_encoder(settings.embedder)))


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request) -> HTMLResponse:
    return _page(request, "sources.html")


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request) -> HTMLResponse:
    return _page(request, "models.html")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/rate") -> HTMLResponse:
    return _page(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login", response_model=None)
def login(
    request: Request,
    settings: SettingsDep,
    token: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/rate",
) -> Response:
    """Check the token and set a SameSite=Strict session cookie."""
    if not settings.api_token or not token_matches(token, settings.api_token):
        response: Response = _page(request, "login.html", next=_safe_next(next), error="That token is not right.")
        response.status_code = 401
        return response
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE, session_value(settings.api_token), httponly=True, samesite="strict", max_age=30 * 24 * 3600
    )
    return response


def _safe_next(target: str) -> str:
    """Only a path on this site, never another host."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/rate"
