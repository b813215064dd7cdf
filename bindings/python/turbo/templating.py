"""Jinja2Templates: FastAPI's (Starlette's) HTML templates, for turbo.

    templates = Jinja2Templates(directory="templates")

    @app.get("/items/{id}", response_class=HTMLResponse)
    def item(request: Request, id: str):
        return templates.TemplateResponse(request, "item.html", {"id": id})

The template sees the context given, `request`, what each context
processor returns for the request, and `url_for(name, **path_params)`
(request.url_for). Rendering happens when TemplateResponse is called, on
the thread serving the request. jinja2 is needed; this module is imported
only when Jinja2Templates is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

try:
    import jinja2
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("turbo.Jinja2Templates needs jinja2 (pip install jinja2)") from e

from . import HTMLResponse


class _TemplateResponse(HTMLResponse):
    """The rendered page; `template` and `context` kept for tests."""

    def __init__(self, template: Any, context: dict[str, Any], status_code: int = 200,
                 headers: Mapping[str, str] | None = None,
                 media_type: str | None = None) -> None:
        self.template = template
        self.context = context
        super().__init__(template.render(context), status_code, headers, media_type)


@jinja2.pass_context
def _url_for(context: Any, name: str, /, **path_params: Any) -> Any:
    return context["request"].url_for(name, **path_params)


class Jinja2Templates:
    """Templates from directory (a path or a list of them; autoescaped
    as jinja2.select_autoescape decides: .html, .htm, .xml) or from the
    jinja2 Environment given as env; exactly one of the two."""

    def __init__(self, directory: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
                 | None = None, *,
                 context_processors: list[Callable[[Any], dict[str, Any]]] | None = None,
                 env: jinja2.Environment | None = None) -> None:
        if (directory is None) == (env is None):
            raise TypeError("Jinja2Templates takes either directory or env, not both or neither")
        self.context_processors = list(context_processors or [])
        if env is None:
            env = jinja2.Environment(loader=jinja2.FileSystemLoader(directory),  # type: ignore[arg-type]
                                     autoescape=jinja2.select_autoescape())
        self.env = env
        env.globals.setdefault("url_for", _url_for)

    def get_template(self, name: str) -> jinja2.Template:
        return self.env.get_template(name)

    def TemplateResponse(self, request: Any, name: str,  # noqa: N802 - Starlette's name
                         context: dict[str, Any] | None = None, status_code: int = 200,
                         headers: Mapping[str, str] | None = None,
                         media_type: str | None = None,
                         background: Any = None) -> _TemplateResponse:
        """The page name rendered with context (request added, then each
        context processor's values). jinja2.TemplateNotFound for a missing
        template (a 500 for the request)."""
        if isinstance(request, str):
            raise TypeError("TemplateResponse(request, name, context): the request comes first "
                            "(Starlette's older TemplateResponse(name, {'request': ...}) is not "
                            "supported)")
        if background is not None:
            raise TypeError("TemplateResponse(background=...) is not supported yet: "
                            "take a BackgroundTasks parameter")
        context = dict(context or {})
        context.setdefault("request", request)
        for processor in self.context_processors:
            context.update(processor(request))
        return _TemplateResponse(self.get_template(name), context, status_code, headers,
                                 media_type)
