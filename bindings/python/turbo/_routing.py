"""APIRouter: routes declared apart from the app, with a prefix, and
included into an App (or into another router) with include_router, as
FastAPI spells it. A router only records its routes; including it adds
them to the App with their full paths, so a request costs the same as on
a route declared on the App itself."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypedDict, TypeVar, Unpack

_F = TypeVar("_F", bound=Callable[..., Any])


class _Annotated:
    """response_model's default: the return annotation decides
    (_bodies.response_model_of)."""

    def __repr__(self) -> str:
        return "<the return annotation>"


ANNOTATED: Any = _Annotated()


class RouteOptions(TypedDict, total=False):
    """The keyword options of every route decorator (App.route/get/post/...,
    APIRouter's), typed once here; their defaults and meaning are
    App.add_route's, the one place that reads them."""
    blocking: bool
    stream_body: bool
    status_code: int | None
    dependencies: Iterable[Any] | None
    response_model: Any
    response_model_exclude_none: bool
    response_model_exclude_unset: bool
    tags: list[str] | None
    summary: str | None
    description: str | None
    deprecated: bool | None
    include_in_schema: bool
    name: str | None
    operation_id: str | None
    responses: dict[int | str, dict[str, Any]] | None
    response_description: str
    response_class: Any


def _check_prefix(prefix: str) -> str:
    if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
        raise ValueError(f"a path prefix must start with '/' and not end with '/': {prefix!r}")
    return prefix


_META_DEFAULTS: dict[str, Any] = {
    "tags": None, "summary": None, "description": None, "deprecated": None,
    "include_in_schema": True, "name": None, "operation_id": None, "responses": None,
    "response_description": "Successful Response"}


def merge_metadata(options: dict[str, Any], tags: Iterable[str] | None,
                   responses: dict[int | str, dict[str, Any]] | None, deprecated: bool | None,
                   include_in_schema: bool) -> dict[str, Any]:
    """A route's options under an enclosing router's (or include's)
    documentation options, as FastAPI combines them: the outer tags
    first, the route's responses over the outer ones, deprecated if
    either is, documented only if both are."""
    return dict(options,
                tags=[*(tags or []), *(options.get("tags") or [])],
                responses={**(responses or {}), **(options.get("responses") or {})},
                deprecated=bool(options.get("deprecated") or deprecated) or None,
                include_in_schema=options.get("include_in_schema", True) and include_in_schema)


def included(options: dict[str, Any], tags: Iterable[str] | None,
             responses: dict[int | str, dict[str, Any]] | None, deprecated: bool | None,
             include_in_schema: bool, dependencies: Iterable[Any] | None,
             default_response_class: Any) -> dict[str, Any]:
    """A route's options once included (include_router's options, or an
    enclosing router's): its documentation merged (merge_metadata), the
    outer dependencies before its own, and the outer default response
    class when the route and inner routers gave none, as FastAPI orders
    them."""
    out = merge_metadata(options, tags, responses, deprecated, include_in_schema)
    out["dependencies"] = [*(dependencies or []), *(options.get("dependencies") or [])]
    if out.get("response_class") is None and default_response_class is not None:
        out["response_class"] = default_response_class
    return out


class APIRouter:
    """A group of routes under a path prefix. tags, responses, deprecated
    and include_in_schema document its routes in the OpenAPI schema, as
    FastAPI's do; other FastAPI options are not supported yet and raise
    TypeError."""

    def __init__(self, *, prefix: str = "", tags: Iterable[str] | None = None,
                 dependencies: Iterable[Any] | None = None,
                 responses: dict[int | str, dict[str, Any]] | None = None,
                 deprecated: bool | None = None, include_in_schema: bool = True,
                 default_response_class: Any = None, **options: Any) -> None:
        if options:
            raise TypeError(f"APIRouter(): {', '.join(sorted(options))} not supported yet "
                            "(docs/fastapi-compat.md)")
        self.prefix = _check_prefix(prefix)
        self.tags = list(tags or [])
        self.dependencies = list(dependencies or [])  # before each route's own
        self.responses = dict(responses or {})
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema
        self.default_response_class = default_response_class  # for routes that give none
        # (path without this router's prefix, endpoint, methods, add_route options)
        self._entries: list[tuple[str, Callable[..., Any], list[str] | None, dict[str, Any]]] = []

    def add_api_route(self, path: str, endpoint: Callable[..., Any],
                      methods: Iterable[str] | None = None,
                      **options: Unpack[RouteOptions]) -> None:
        """Records the route; App.add_route checks its options when the
        router is included (an unknown option is a TypeError here)."""
        if not callable(endpoint):
            raise TypeError("endpoint must be callable")
        unknown = set(options) - RouteOptions.__optional_keys__
        if unknown:
            raise TypeError(f"unexpected route option(s): {', '.join(sorted(unknown))}")
        recorded = merge_metadata(dict(options), self.tags, self.responses, self.deprecated,
                                  self.include_in_schema)
        recorded["dependencies"] = list(options.get("dependencies") or [])
        self._entries.append((path, endpoint, None if methods is None else list(methods),
                              recorded))

    def api_route(self, path: str, methods: Iterable[str] | None = None,
                  **options: Unpack[RouteOptions]) -> Callable[[_F], _F]:
        def deco(func: _F) -> _F:
            self.add_api_route(path, func, methods, **options)
            return func
        return deco

    def get(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[_F], _F]:
        return self.api_route(path, ["GET"], **options)

    def post(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[_F], _F]:
        return self.api_route(path, ["POST"], **options)

    def put(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[_F], _F]:
        return self.api_route(path, ["PUT"], **options)

    def patch(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[_F], _F]:
        return self.api_route(path, ["PATCH"], **options)

    def delete(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[_F], _F]:
        return self.api_route(path, ["DELETE"], **options)

    def include_router(self, router: APIRouter, *, prefix: str = "",
                       tags: list[str] | None = None,
                       dependencies: Iterable[Any] | None = None,
                       default_response_class: Any = None,
                       responses: dict[int | str, dict[str, Any]] | None = None,
                       deprecated: bool | None = None,
                       include_in_schema: bool = True) -> None:
        """router's routes become this one's, under prefix + router.prefix,
        as FastAPI nests them: dependencies (this router's, then the
        include's, then router's own) before each route's own; this
        router's tags, then tags, before the routes' own; a route's
        response_class, else router's default, else default_response_class,
        else this router's."""
        _check_prefix(prefix)
        for path, endpoint, methods, options in router.routes():
            options = included(options, [*self.tags, *(tags or [])],
                               {**self.responses, **(responses or {})},
                               bool(deprecated or self.deprecated) or None,
                               include_in_schema and self.include_in_schema,
                               dependencies, default_response_class)
            self._entries.append((prefix + path, endpoint, methods, options))

    def routes(self, prefix: str = "") -> Iterator[tuple[str, Callable[..., Any],
                                                         list[str] | None, dict[str, Any]]]:
        """(full path, endpoint, methods, options) of every route, under prefix."""
        for path, endpoint, methods, options in self._entries:
            out = dict(options, dependencies=[*self.dependencies, *options["dependencies"]])
            if out.get("response_class") is None and self.default_response_class is not None:
                out["response_class"] = self.default_response_class
            yield prefix + self.prefix + path, endpoint, methods, out
