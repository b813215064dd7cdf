"""The OpenAPI 3.1 document of a FastAPI-style App, and its /docs and
/redoc pages.

What FastAPI 0.165 documents for an app is what this module documents for
the same app (test_fastapi_diff.py compares the two documents for every
app in tests/fastapi_apps): the rules were learnt from its behaviour and
are restated here in our own terms. Nothing here runs on the request path
of an ordinary route: each route's metadata is only recorded when it is
added (`Operation`), and the document is built on the first request for
it, and again after the routes have changed.

The JSON Schemas come from pydantic, as FastAPI gets them: one
GenerateJsonSchema.generate_definitions call over every parameter, body
and response of the documented routes (request side in pydantic's
"validation" mode, responses in "serialization" mode), with references to
`#/components/schemas/{model}`.

Layout, so that more can be documented later: `_analyze` sorts a
callable's parameters by source (`_Dependant.params["path" | "query" |
"header" | "cookie"]`, `bodies`, dependencies; `_add_marked` for the
Query/Path/Header/Cookie markers) and `_flatten` gathers them over the
dependencies; `_parameters` documents them, `_request_body_field` picks
the field that documents the body (where several bodies, forms and files
will be combined), `_request_body` and `_responses` document body and
responses, and `_security` is where security schemes
(components.securitySchemes, the operation's `security`) will go.
"""

from __future__ import annotations

import copy
import http.client
import importlib.util
import inspect
import json
import os
import re
import types
import typing
import warnings
from collections.abc import Iterable
from enum import Enum
from typing import Any

REF_PREFIX = "#/components/schemas/"
METHODS_WITH_BODY = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"})
_RANGES = {"1XX": "Information", "2XX": "Success", "3XX": "Redirection",
           "4XX": "Client Error", "5XX": "Server Error", "DEFAULT": "Default Response"}


class Operation:
    """One route as documented: what add_route was given, checked when
    the route is added."""

    __slots__ = ("path", "endpoint", "methods", "status_code", "response_model",
                 "dependencies", "tags", "summary", "description", "deprecated",
                 "include_in_schema", "name", "operation_id", "responses",
                 "response_description", "response_class", "stream_item")

    def __init__(self, path: str, endpoint: Any, methods: list[str], *,
                 status_code: int | None, response_model: Any, dependencies: list[Any],
                 tags: Any, summary: Any, description: Any, deprecated: Any,
                 include_in_schema: Any, name: Any, operation_id: Any, responses: Any,
                 response_description: Any, response_class: Any = None,
                 stream_item: Any = None) -> None:
        if tags is not None and (isinstance(tags, (str, bytes)) or not all(
                isinstance(t, (str, Enum)) for t in tags)):
            raise TypeError(f"tags must be a list of str, not {tags!r}")
        for opt, value in (("summary", summary), ("description", description),
                           ("name", name), ("operation_id", operation_id)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{opt} must be a str, not {value!r}")
        if not isinstance(response_description, str):
            raise TypeError(f"response_description must be a str, not {response_description!r}")
        if deprecated is not None and not isinstance(deprecated, bool):
            raise TypeError(f"deprecated must be a bool, not {deprecated!r}")
        if not isinstance(include_in_schema, bool):
            raise TypeError(f"include_in_schema must be a bool, not {include_in_schema!r}")
        responses = dict(responses or {})
        for code, resp in responses.items():
            if not isinstance(resp, dict):
                raise TypeError(f"responses[{code!r}] must be a dict, not {resp!r}")
            key = str(code).upper()
            if key not in _RANGES and not (isinstance(code, int) or key.isdigit()):
                raise ValueError(f"responses: {code!r} is not a status code, a range "
                                 "('2XX') or 'default'")
            if resp.get("model") is not None and not _body_allowed(code):
                raise ValueError(f"responses: status {code} must not have a response body "
                                 "(model given)")
        if response_model is not None and status_code is not None \
                and not _body_allowed(status_code):
            raise ValueError(f"status_code {status_code} must not have a response body "
                             "(response_model given)")
        self.path = path
        self.endpoint = endpoint
        self.methods = list(methods)
        self.status_code = status_code
        self.response_model = response_model
        self.dependencies = list(dependencies)
        self.tags = list(tags or [])
        self.summary = summary
        self.description = description
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema
        self.name = name if name is not None else getattr(endpoint, "__name__",
                                                          type(endpoint).__name__)
        self.operation_id = operation_id
        self.responses = responses
        self.response_description = response_description
        self.response_class = response_class  # None: JSON
        # A generator endpoint's JSON Lines: its item type (_jsonl.NO_ITEM_TYPE
        # when unannotated); None for any other route.
        self.stream_item = stream_item


def _body_allowed(code: Any) -> bool:
    if code is None or str(code).upper() in _RANGES:
        return True
    n = int(code)
    return not (n < 200 or n in (204, 205, 304))


# ---- what a route's parameters are -------------------------------------------


class _Field:
    """A parameter, body or response as documented: its pydantic
    TypeAdapter (whose core schema pydantic turns into JSON Schema), and
    how it is named."""

    __slots__ = ("name", "alias", "request_name", "annotation", "mode", "adapter", "title",
                 "required", "description", "deprecated", "include_in_schema", "embed",
                 "media_type", "default", "constraints", "docs", "form", "file")

    def __init__(self, name: str, annotation: Any, *, mode: str = "validation",
                 default: Any = ..., alias: str | None = None, request_name: str | None = None,
                 constraints: dict[str, Any] | None = None, docs: dict[str, Any] | None = None
                 ) -> None:
        from pydantic import Field, TypeAdapter
        from pydantic_core import PydanticUndefined

        docs = docs or {}
        self.embed = False
        self.form = self.file = False
        self.media_type = "application/json"
        self.default = default
        self.constraints = constraints or {}
        self.docs = docs
        self.name = name
        self.alias = alias or name
        self.request_name = request_name or self.alias
        self.annotation = annotation
        self.mode = mode
        self.required = default is ... or default is PydanticUndefined
        self.title = docs.get("title")
        self.description = docs.get("description")
        self.deprecated = docs.get("deprecated")
        self.include_in_schema = docs.get("include_in_schema", True)
        info = {k: v for k, v in docs.items() if k in ("title", "description", "examples")}
        if docs.get("deprecated") is not None:
            info["deprecated"] = docs["deprecated"]
        field = Field(PydanticUndefined if self.required else default,
                      **(constraints or {}), **info)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.adapter = TypeAdapter(typing.Annotated[annotation, field])


class _Dependant:
    """The parameters one callable (the endpoint, or a dependency) takes
    from the request, and the dependencies it has."""

    def __init__(self, call: Any) -> None:
        self.call = call
        self.params: dict[str, list[_Field]] = {"path": [], "query": [], "header": [],
                                                "cookie": []}
        self.bodies: list[_Field] = []
        self.dependencies: list[_Dependant] = []
        # (security scheme, the scopes of the Security chain down to it)
        self.security: list[tuple[Any, list[str]]] = []


def _hints(call: Any) -> dict[str, Any]:
    target = getattr(call, "__init__") if isinstance(call, type) else call
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:  # noqa: BLE001 - unresolvable annotations: use them raw
        return {}


def _analyze(call: Any, path_names: set[str], route_deps: Iterable[Any] = (),
             scopes: tuple[str, ...] = ()) -> _Dependant:
    """call's parameters sorted by where they come from, as FastAPI sorts
    them (route_deps: the dependencies= given, solved first; scopes: those
    of the Security dependencies above call)."""
    from . import Request, Response, _bodies, _forms, _security

    dep = _Dependant(call)
    if isinstance(call, _security.SecurityBase):
        dep.security.append((call, list(scopes)))
        return dep
    for d in route_deps:
        dep.dependencies.append(_analyze(d.dependency, path_names, (),
                                         (*scopes, *getattr(d, "scopes", ()))))
    hints = _hints(call)
    for p in inspect.signature(call).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        hint = hints.get(p.name, p.annotation)
        marker, tp = _bodies._dep_marker(p, hint)
        if marker is not None:
            sub = marker.dependency if marker.dependency is not None else tp
            dep.dependencies.append(_analyze(sub, path_names, (),
                                             (*scopes, *getattr(marker, "scopes", ()))))
            continue
        if isinstance(tp, type) and issubclass(tp, (Request, _bodies.BackgroundTasks,
                                                    _security.SecurityScopes, Response)):
            continue
        marker, tp = _bodies._marker(p, hint)
        if tp is inspect.Parameter.empty:
            tp = Any
        given = p.default if (p.default is not p.empty
                              and not isinstance(p.default, (_bodies._Param, _bodies.Body))
                              ) else ...
        body, btp = _bodies._body_marker(p, hint)
        if body is not None:
            default = given if given is not ... else body.default
            f = _Field(p.name, btp, default=default, alias=body.alias,
                       constraints=body.constraints, docs=body.docs)
            f.embed = bool(body.embed) or (isinstance(body, _forms.Form)
                                           and not _bodies._is_model(btp))
            f.media_type = body.media_type
            f.form = isinstance(body, _forms.Form)
            f.file = isinstance(body, _forms.File)
            dep.bodies.append(f)
        elif marker is not None:
            _add_marked(dep, p.name, tp, marker, given, path_names)
        elif p.name in path_names:
            dep.params["path"].append(_Field(p.name, tp))
        elif _bodies._is_body_type(tp):
            dep.bodies.append(_Field(p.name, tp, default=given))
        else:
            dep.params["query"].append(_Field(p.name, tp, default=given))
    return dep


def _add_marked(dep: _Dependant, name: str, tp: Any, marker: Any, given: Any,
                path_names: set[str]) -> None:
    """A parameter declared with Query, Path, Header or Cookie."""
    source = marker.source
    if name in path_names:
        source, default = "path", ...
    else:
        default = given if given is not ... else marker.default
    if marker.alias is not None:
        alias = marker.alias
    elif source == "header" and marker.convert_underscores:
        alias = name.replace("_", "-")
    else:
        alias = name
    dep.params[source].append(_Field(name, tp, default=default, alias=alias,
                                     constraints=marker.constraints, docs=marker.docs))


def _flatten(root: _Dependant) -> tuple[dict[str, list[_Field]], list[_Field]]:
    """Every parameter of root and its dependencies (each dependency once),
    by source, depth first, root first; and every body."""
    params: dict[str, list[_Field]] = {"path": [], "query": [], "header": [], "cookie": []}
    seen: list[Any] = []
    stack = [root]
    while stack:
        d = stack.pop()
        if d is not root and any(d.call is s for s in seen):
            continue
        if d is not root:
            seen.append(d.call)
        for source, fields in d.params.items():
            params[source].extend(fields)
        stack.extend(reversed(d.dependencies))
    bodies: list[_Field] = []
    stack = [root]
    while stack:
        d = stack.pop()
        bodies.extend(d.bodies)
        stack.extend(reversed(d.dependencies))
    return params, bodies


# ---- one route ---------------------------------------------------------------


class _Route:
    """An Operation with its fields worked out (before the schemas exist)."""

    def __init__(self, op: Operation) -> None:
        from . import Response

        self.op = op
        self.path_format = re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*):[A-Za-z]+\}", r"{\1}", op.path)
        path_names = set(re.findall(r"\{(.*?)\}", self.path_format))
        self.methods = {m.upper() for m in op.methods}
        if op.operation_id:
            self.unique_id = op.operation_id
        else:
            self.unique_id = re.sub(r"\W", "_", op.name + self.path_format) \
                + "_" + list(self.methods)[0].lower()
        root = self.root = _analyze(op.endpoint, path_names, op.dependencies)
        self.params, bodies = _flatten(root)
        self.body = _request_body_field(bodies, self.unique_id)
        model = op.response_model  # resolved by _bodies.response_model_of
        self.response = (_Field("Response_" + self.unique_id, model, mode="serialization")
                         if model is not None else None)
        from . import _jsonl
        item = op.stream_item
        self.stream_item = (_Field("StreamItem_" + self.unique_id, item, mode="serialization")
                            if item is not None and item is not _jsonl.NO_ITEM_TYPE else None)
        self.extra_responses = {
            code: _Field(f"Response_{code}_{self.unique_id}", r["model"], mode="serialization")
            for code, r in op.responses.items() if r.get("model") is not None}

    def fields(self) -> list[_Field]:
        out = []
        if self.body is not None:
            out.append(self.body)
        if self.response is not None:
            out.append(self.response)
        if self.stream_item is not None:
            out.append(self.stream_item)
        out.extend(self.extra_responses.values())
        for source in ("path", "query", "header", "cookie"):
            out.extend(self.params[source])
        return out


def _request_body_field(bodies: list[_Field], unique_id: str) -> _Field | None:
    """The one field that documents the request body: the body parameter
    itself, or (several, or embedded) a model Body_<operation id> with one
    field per parameter, as FastAPI makes it."""
    if not bodies:
        return None
    names = {f.name for f in bodies}
    if len(names) == 1 and not bodies[0].embed:
        return bodies[0]
    from pydantic import Field, create_model
    from pydantic_core import PydanticUndefined

    fields: dict[str, Any] = {}
    for f in bodies:
        if f.name in fields:
            continue
        info = {k: v for k, v in f.docs.items() if k in ("title", "description", "examples")}
        if f.docs.get("deprecated") is not None:
            info["deprecated"] = f.docs["deprecated"]
        fields[f.name] = (f.annotation, Field(PydanticUndefined if f.required else f.default,
                                              alias=f.alias, **f.constraints, **info))
    model = create_model("Body_" + unique_id, **fields)
    required = any(f.required for f in bodies)
    out = _Field("body", model, default=... if required else None)
    # The media type as FastAPI picks it: multipart when there is a file,
    # or a Form() that asks for it; else the one the parameters share.
    if any(f.file for f in bodies):
        out.media_type = "multipart/form-data"
    elif any(f.form for f in bodies):
        media = {f.media_type for f in bodies if f.form}
        out.media_type = ("multipart/form-data" if "multipart/form-data" in media
                          else media.pop() if len(media) == 1
                          else "application/x-www-form-urlencoded")
    else:
        media = {f.media_type for f in bodies}
        if len(media) == 1:
            out.media_type = media.pop()
    return out


def _schema(field: _Field, mapping: dict[Any, Any], alias: str | None = None) -> dict[str, Any]:
    s = dict(mapping[(field, field.mode)])
    if "$ref" not in s:
        s["title"] = field.title or (alias or field.alias).title().replace("_", " ")
    return s


def _parameters(route: _Route, mapping: dict[Any, Any]) -> list[dict[str, Any]]:
    out = []
    for source in ("path", "query", "header", "cookie"):
        for f in route.params[source]:
            if not f.include_in_schema:
                continue
            p: dict[str, Any] = {"name": f.request_name, "in": source, "required": f.required,
                                 "schema": _schema(f, mapping)}
            if f.description:
                p["description"] = f.description
            if f.deprecated:
                p["deprecated"] = True
            out.append(p)
    # One entry per (in, name), where it first appears; a required
    # declaration wins over an optional one.
    by_key = {(p["in"], p["name"]): p for p in out}
    by_key.update({(p["in"], p["name"]): p for p in out if p["required"]})
    return list(by_key.values())


def _request_body(route: _Route, mapping: dict[Any, Any]) -> dict[str, Any] | None:
    if route.body is None:
        return None
    out: dict[str, Any] = {}
    if route.body.required:
        out["required"] = True
    out["content"] = {route.body.media_type: {"schema": _schema(route.body, mapping)}}
    return out


def _security(route: _Route) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(components.securitySchemes entries, the operation's security
    requirements): every security scheme in the route's dependencies,
    depth first as FastAPI flattens them, each with its chain's scopes."""
    schemes: dict[str, Any] = {}
    requirements: list[dict[str, Any]] = []

    def walk(dep: _Dependant) -> None:
        for scheme, scopes in dep.security:
            schemes[scheme.scheme_name] = copy.deepcopy(scheme.model)
            requirements.append({scheme.scheme_name: scopes})
        for sub in dep.dependencies:
            walk(sub)
    walk(route.root)
    return schemes, requirements


def _deep_update(main: dict[Any, Any], update: dict[Any, Any]) -> None:
    for k, v in update.items():
        if isinstance(main.get(k), dict) and isinstance(v, dict):
            _deep_update(main[k], v)
        elif isinstance(main.get(k), list) and isinstance(v, list):
            main[k] = main[k] + v
        else:
            main[k] = v


def _responses(route: _Route, mapping: dict[Any, Any], has_input: bool,
               definitions: dict[str, Any]) -> dict[str, Any]:
    op = route.op
    cls = op.response_class
    status = str(op.status_code) if op.status_code is not None else "200"
    if op.status_code is None and cls is not None:
        # As FastAPI: the class's own default status (RedirectResponse's 307).
        param = inspect.signature(cls.__init__).parameters.get("status_code")
        if param is not None and isinstance(param.default, int):
            status = str(param.default)
    out: dict[str, Any] = {status: {"description": op.response_description}}
    if _body_allowed(op.status_code):
        from . import JSONResponse
        media = "application/json" if cls is None else cls.media_type
        if op.stream_item is not None:  # JSON Lines (turbo/_jsonl.py)
            item = _schema(route.stream_item, mapping) if route.stream_item is not None else {}
            out[status]["content"] = {"application/jsonl": {"itemSchema": item}}
        elif cls is None or issubclass(cls, JSONResponse) or getattr(cls, "_json_kind", False):
            schema = _schema(route.response, mapping) if route.response is not None else {}
            out[status]["content"] = {media: {"schema": schema}}
        elif media:
            out[status]["content"] = {media: {"schema": {"type": "string"}}}
    for code, given in op.responses.items():
        extra = copy.deepcopy(given)
        extra.pop("model", None)
        key = str(code).upper()
        if key == "DEFAULT":
            key = "default"
        entry = out.setdefault(key, {})
        field = route.extra_responses.get(code)
        if field is not None:
            media = (cls.media_type if cls is not None else None) or "application/json"
            target = extra.setdefault("content", {}).setdefault(
                media, {}).setdefault("schema", {})
            _deep_update(target, _schema(field, mapping))
        text = _RANGES.get(str(code).upper())
        if text is None:
            try:
                text = http.client.responses.get(int(code))
            except ValueError:
                text = None
        description = extra.get("description") or entry.get("description") or text \
            or "Additional Response"
        _deep_update(entry, extra)
        entry["description"] = description
    if has_input and not any(s in out for s in ("422", "4XX", "default")):
        out["422"] = {"description": "Validation Error", "content": {"application/json": {
            "schema": {"$ref": REF_PREFIX + "HTTPValidationError"}}}}
        definitions.setdefault("ValidationError", _VALIDATION_ERROR)
        definitions.setdefault("HTTPValidationError", _HTTP_VALIDATION_ERROR)
    return out


def _operations(route: _Route, mapping: dict[Any, Any], ids: set[str],
                definitions: dict[str, Any], security_schemes: dict[str, Any]
                ) -> dict[str, Any]:
    op = route.op
    has_input = route.body is not None or any(route.params.values())
    out = {}
    for method in route.methods:
        o: dict[str, Any] = {}
        if op.tags:
            o["tags"] = [t.value if isinstance(t, Enum) else t for t in op.tags]
        o["summary"] = op.summary or op.name.replace("_", " ").title()
        description = op.description or inspect.cleandoc(
            getattr(op.endpoint, "__doc__", None) or "")
        description = description.split("\f")[0].strip()
        if description:
            o["description"] = description
        if route.unique_id in ids:
            warnings.warn(f"Duplicate Operation ID {route.unique_id} for function "
                          f"{op.name}", stacklevel=2)
        ids.add(route.unique_id)
        o["operationId"] = route.unique_id
        if op.deprecated:
            o["deprecated"] = True
        schemes, requirements = _security(route)
        if requirements:
            o["security"] = requirements
        security_schemes.update(schemes)
        params = _parameters(route, mapping)
        if params:
            o["parameters"] = params
        if method in METHODS_WITH_BODY:
            body = _request_body(route, mapping)
            if body:
                o["requestBody"] = body
        o["responses"] = _responses(route, mapping, has_input, definitions)
        out[method.lower()] = o
    return out


# ---- the document ------------------------------------------------------------

_VALIDATION_ERROR = {
    "title": "ValidationError", "type": "object",
    "properties": {
        "loc": {"title": "Location", "type": "array",
                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"title": "Message", "type": "string"},
        "type": {"title": "Error Type", "type": "string"},
        "input": {"title": "Input"},
        "ctx": {"title": "Context", "type": "object"},
    },
    "required": ["loc", "msg", "type"],
}
_HTTP_VALIDATION_ERROR = {
    "title": "HTTPValidationError", "type": "object",
    "properties": {"detail": {"title": "Detail", "type": "array",
                              "items": {"$ref": REF_PREFIX + "ValidationError"}}},
}


def _models_in(tp: Any, found: dict[Any, None]) -> None:
    """The pydantic models and enums tp refers to, nested ones too."""
    from pydantic import BaseModel

    if isinstance(tp, type) and issubclass(tp, (BaseModel, Enum)):
        if tp in found:
            return
        found[tp] = None
        if issubclass(tp, BaseModel):
            for f in tp.model_fields.values():
                _models_in(f.annotation, found)
        return
    for arg in typing.get_args(tp):
        _models_in(arg, found)


def _generator() -> Any:
    from pydantic.json_schema import GenerateJsonSchema

    class Generate(GenerateJsonSchema):
        # bytes as OpenAPI 3.1 describes raw data (FastAPI's choice too).
        def bytes_schema(self, schema: Any) -> Any:
            out = {"type": "string", "contentMediaType": "application/octet-stream"}
            mode = (self._config.ser_json_bytes if self.mode == "serialization"
                    else self._config.val_json_bytes)
            if mode == "base64":
                out["contentEncoding"] = "base64"
            self.update_with_validations(out, schema, self.ValidationsMapping.bytes)
            return out

    return Generate(ref_template=REF_PREFIX + "{model}")


def _definitions(fields: list[_Field]) -> tuple[dict[Any, Any], dict[str, Any]]:
    inputs = [(f, f.mode, f.adapter.core_schema) for f in fields]
    annotations = [f.annotation for f in fields]
    for mode in ("validation", "serialization"):
        found: dict[Any, None] = {}
        for f in fields:
            if f.mode == mode:
                _models_in(f.annotation, found)
        for model in found:
            if not any(model is a for a in annotations):
                mf = _Field(model.__name__, model, mode=mode)
                inputs.append((mf, mode, mf.adapter.core_schema))
    mapping, defs = _generator().generate_definitions(inputs=inputs)
    for d in defs.values():
        if isinstance(d.get("description"), str):
            d["description"] = d["description"].split("\f")[0]
    return mapping, dict(defs)


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def get_openapi(*, title: str, version: str, openapi_version: str = "3.1.0",
                summary: str | None = None, description: str | None = None,
                routes: Iterable[Any], tags: list[dict[str, Any]] | None = None,
                servers: list[dict[str, Any]] | None = None,
                terms_of_service: str | None = None, contact: dict[str, Any] | None = None,
                license_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """FastAPI's fastapi.openapi.utils.get_openapi: the document for routes
    (app.routes) under the info given, for a customized app.openapi."""
    ops = []
    for r in routes:
        if not isinstance(r, Operation):
            raise TypeError(f"get_openapi(routes=...) takes app.routes, not {r!r}")
        ops.append(r)
    info = types.SimpleNamespace(title=title, version=version, summary=summary,
                                 description=description, terms_of_service=terms_of_service,
                                 contact=contact, license_info=license_info, servers=servers,
                                 openapi_tags=tags)
    out = document(info, ops)
    out["openapi"] = openapi_version
    return out


def document(app: Any, operations: list[Operation]) -> dict[str, Any]:
    """The OpenAPI document of app (its info) with operations (its routes'
    Operations, those with include_in_schema)."""
    info: dict[str, Any] = {"title": app.title, "version": app.version}
    if app.summary:
        info["summary"] = app.summary
    if app.description:
        info["description"] = app.description
    for key, attr in (("termsOfService", "terms_of_service"), ("contact", "contact"),
                      ("license", "license_info")):
        if getattr(app, attr, None):
            info[key] = getattr(app, attr)
    out: dict[str, Any] = {"openapi": "3.1.0", "info": info}
    if app.servers:
        out["servers"] = app.servers
    routes = [_Route(op) for op in operations if op.include_in_schema]
    fields = [f for r in routes for f in r.fields()]
    mapping, definitions = _definitions(fields)
    paths: dict[str, Any] = {}
    ids: set[str] = set()
    schemes: dict[str, Any] = {}
    for r in routes:
        paths.setdefault(r.path_format, {}).update(
            _operations(r, mapping, ids, definitions, schemes))
    components: dict[str, Any] = {}
    if schemes:
        components["securitySchemes"] = schemes
    if definitions:
        components["schemas"] = {k: definitions[k] for k in sorted(definitions)}
    if components:
        out["components"] = components
    out["paths"] = paths
    if app.openapi_tags:
        out["tags"] = app.openapi_tags
    return _drop_none(json.loads(json.dumps(out, default=_plain)))


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return str(value)


# ---- the pages ----------------------------------------------------------------

# Where FastAPI loads them from, used when the packages are not installed.
SWAGGER_CDN = ("https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js",
               "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css")
REDOC_CDN = "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"

# Installed packages that ship the assets (requirements-dev.txt): package,
# directory within it, files served (name: content type).
_ASSETS = {
    "swagger": ("flask_swagger_ui", "dist", {"swagger-ui-bundle.js": "text/javascript",
                                             "swagger-ui.css": "text/css"}),
    "redoc": ("flask_openapi3_redoc", "templates/redoc/js",
              {"redoc.standalone.js": "text/javascript"}),
}


def asset_dir(kind: str) -> str | None:
    """The directory holding kind's files in an installed package (found
    without importing it), or None."""
    package, sub, files = _ASSETS[kind]
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    d = os.path.join(list(spec.submodule_search_locations)[0], *sub.split("/"))
    if all(os.path.isfile(os.path.join(d, f)) for f in files):
        return d
    return None


def asset_files(kind: str) -> dict[str, str]:
    return dict(_ASSETS[kind][2])


def swagger_html(title: str, openapi_url: str, js: str, css: str) -> str:
    config = {"url": openapi_url, "dom_id": "#swagger-ui", "layout": "BaseLayout",
              "deepLinking": True, "showExtensions": True, "showCommonExtensions": True}
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_html(title)}</title>
<link rel="stylesheet" href="{_html(css)}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{_html(js)}"></script>
<script>
const config = {_script_json(config)};
config.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
window.ui = SwaggerUIBundle(config);
</script>
</body>
</html>
"""


def redoc_html(title: str, openapi_url: str, js: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_html(title)}</title>
<style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
<div id="redoc"></div>
<script src="{_html(js)}"></script>
<script>
Redoc.init({_script_json(openapi_url)}, {{}}, document.getElementById("redoc"));
</script>
</body>
</html>
"""


def _html(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _script_json(value: Any) -> str:
    return json.dumps(value).replace("<", "\\u003c")
