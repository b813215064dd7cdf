"""The request as a FastAPI app's code sees it (Starlette's Request API).

A `turbo.FastAPI` app hands its handlers, dependencies, http middleware
and exception handlers a view of the C `turbo.Request`, made by the
app's own subclass of `StarletteRequest` (its `app` attribute): only
where one is declared (the handler's or a dependency's `Request`
parameter, decided when the route is added; the middleware chain's,
once per request, when there is one), so a route that takes no Request
pays nothing. A plain `turbo.App` keeps the C Request as it is
(`request.body` bytes, `request.json()` synchronous).

What the view changes, as Starlette has it: `await request.body()`,
`await request.json()`, `await request.form()`; `query_params` a
QueryParams (a key's last value, `getlist`, `multi_items`); `client` an
Address (`.host`, `.port`); and adds `url`, `base_url`, `cookies`,
`state` (one per request, shared by every view of it: it lives on the C
request), `url_for`, `app`, `scope`. The C Request's other attributes
(`method`, `headers`, `path_params`, `path`, `query_string`, `stream()`)
are read through.

The behaviour is Starlette 1.x's (starlette/requests.py and
datastructures.py were read for it); the code is turbo's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit

from . import _turbo


class Address(NamedTuple):
    """The peer of a request: `request.client.host`, `.port`."""

    host: str
    port: int


class NoMatchFound(Exception):
    """url_for: no route of that name takes exactly those path parameters."""

    def __init__(self, name: str, path_params: Mapping[str, Any]) -> None:
        super().__init__(f'No route exists for name "{name}" and params '
                         f'"{", ".join(path_params)}".')


# ---- URL ----------------------------------------------------------------------

_tuple_new = tuple.__new__  # a SplitResult made without its Python __new__
_object_new = object.__new__
_UNSEEN = object()

# A Host field: a reg-name or IPv4, or an IP literal in brackets, and an
# optional port (RFC 3986's authority without userinfo).
_HOST = re.compile(
    r"(?P<host>[a-z0-9._~%!$&'()*+,;=-]+|\[(?:(?P<v6>[a-f0-9]*:[a-f0-9.:]+)|"
    r"(?-i:v)[a-f0-9]+\.[a-z0-9._~!$&'()*+,;=:-]+)\])(?::(?P<port>[0-9]+))?",
    re.IGNORECASE)


# Host field -> _netloc_of_host's answer: a server sees few Host values,
# and request.url is asked for on most requests of an app whose
# middleware reads request.url.path.
_netlocs: dict[str, str | None] = {}


def _netloc_of_host(host: str | None) -> str | None:
    """The authority a Host field names, or None when it is missing or not
    a valid one (a port above 65535 included)."""
    if host is None:
        return None
    try:
        return _netlocs[host]
    except KeyError:
        pass
    netloc = _check_host(host)
    if len(_netlocs) >= 256:
        _netlocs.clear()
    _netlocs[host] = netloc
    return netloc


def _check_host(host: str) -> str | None:
    m = _HOST.fullmatch(host)
    if m is None:
        return None
    if m["v6"] is not None:
        import ipaddress
        try:
            ipaddress.IPv6Address(m["v6"])
        except ValueError:
            return None
    port = m["port"]
    if port is not None:
        digits = port.lstrip("0")
        if len(digits) > 5 or int(digits or "0") > 65535:
            return None
    return host


class URL:
    """A URL as Starlette's: its parts (`scheme`, `netloc`, `path`, `query`,
    `fragment`, `hostname`, `port`, `username`, `password`), `is_secure`,
    `str(url)`, and new URLs made from it (`replace`,
    `include_query_params`, `replace_query_params`,
    `remove_query_params`). Equal to a str of the same text."""

    __slots__ = ("_text", "_parts")

    def __init__(self, url: str = "", **components: Any) -> None:
        if components:
            if url:
                raise ValueError("URL(): give the url or its components, not both")
            url = str(URL("").replace(**components))
        self._text: str | None = url
        self._parts: SplitResult | None = None

    @property
    def _url(self) -> str:
        if self._text is None:
            assert self._parts is not None
            self._text = self._parts.geturl()
        return self._text

    @property
    def components(self) -> SplitResult:
        if self._parts is None:
            self._parts = urlsplit(self._url)
        return self._parts

    @property
    def scheme(self) -> str:
        return self.components.scheme

    @property
    def netloc(self) -> str:
        return self.components.netloc

    @property
    def path(self) -> str:
        parts = self._parts  # (a request's URL has them: no call)
        return (parts if parts is not None else self.components).path

    @property
    def query(self) -> str:
        return self.components.query

    @property
    def fragment(self) -> str:
        return self.components.fragment

    @property
    def username(self) -> str | None:
        return self.components.username

    @property
    def password(self) -> str | None:
        return self.components.password

    @property
    def hostname(self) -> str | None:
        return self.components.hostname

    @property
    def port(self) -> int | None:
        return self.components.port

    @property
    def is_secure(self) -> bool:
        return self.scheme in ("https", "wss")

    def replace(self, **kwargs: Any) -> URL:
        """A URL with those parts changed: scheme, netloc, path, query,
        fragment, or the netloc's hostname, port, username, password."""
        if {"hostname", "port", "username", "password"} & kwargs.keys():
            hostname = kwargs.pop("hostname", None)
            port = kwargs.pop("port", self.port)
            username = kwargs.pop("username", self.username)
            password = kwargs.pop("password", self.password)
            if hostname is None:  # the current one, brackets kept
                hostname = self.netloc.rpartition("@")[2]
                if hostname and not hostname.endswith("]"):
                    hostname = hostname.rsplit(":", 1)[0]
            elif ":" in hostname and not hostname.startswith("["):
                import ipaddress
                try:
                    ipaddress.IPv6Address(hostname)
                    hostname = f"[{hostname}]"
                except ValueError:
                    pass
            netloc = hostname if port is None else f"{hostname}:{port}"
            if username is not None:
                user = username if password is None else f"{username}:{password}"
                netloc = f"{user}@{netloc}"
            kwargs["netloc"] = netloc
        return type(self)(self.components._replace(**kwargs).geturl())

    def include_query_params(self, **kwargs: Any) -> URL:
        """The query with these keys set (each to one value, in place of
        its values; new keys at the end)."""
        given = {str(k): str(v) for k, v in kwargs.items()}
        kept = [(k, v) for k, v in parse_qsl(self.query, keep_blank_values=True)
                if k not in given]
        return self.replace(query=urlencode(kept + list(given.items())))

    def replace_query_params(self, **kwargs: Any) -> URL:
        """The query made of these keys alone."""
        return self.replace(query=urlencode([(str(k), str(v)) for k, v in kwargs.items()]))

    def remove_query_params(self, keys: str | Any) -> URL:
        """The query without these keys (one str, or several)."""
        drop = {keys} if isinstance(keys, str) else set(keys)
        kept = [(k, v) for k, v in parse_qsl(self.query, keep_blank_values=True)
                if k not in drop]
        return self.replace(query=urlencode(kept))

    def __eq__(self, other: Any) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self._url)

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        shown = self.replace(password="********") if self.password else self
        return f"URL({str(shown)!r})"


def _request_url(scheme: str, host: str | None, path: str, query: str) -> URL:
    """The URL of a request: its Host field's authority (the path alone
    without one), the path with '?', '#' and '\\' escaped."""
    path = path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
    netloc = _netlocs.get(host, _UNSEEN) if host is not None else None  # (inlined: hot)
    if netloc is _UNSEEN:
        netloc = _netloc_of_host(host)
    if netloc is None:
        if path.startswith("//"):  # else read back as an authority
            path = "/%2F" + path[2:]
        return URL(f"{path}?{query}" if query else path)
    parts = _tuple_new(SplitResult, (scheme, netloc, path, query, ""))
    if not path.startswith("/") or "\t" in path or "\n" in path or "\r" in path:
        return URL(parts.geturl())  # urlsplit would read those otherwise
    # else the very parts urlsplit finds in the text geturl() makes of them
    url = _object_new(URL)
    url._text = None
    url._parts = parts
    return url


# ---- multi-dicts ----------------------------------------------------------------

class ImmutableMultiDict(Mapping[str, Any]):
    """Pairs in order, a key possibly repeated: as a mapping, each key's
    last value; `getlist(key)` all of them, `multi_items()` every pair."""

    __slots__ = ("_list", "_dict")

    def __init__(self, items: Any = ()) -> None:
        if isinstance(items, ImmutableMultiDict):
            pairs = items.multi_items()
        elif isinstance(items, Mapping):
            pairs = list(items.items())
        else:
            pairs = list(items)
        self._list: list[tuple[str, Any]] = pairs
        self._dict: dict[str, Any] = dict(pairs)

    def getlist(self, key: Any) -> list[Any]:
        return [v for k, v in self._list if k == key]

    def multi_items(self) -> list[tuple[str, Any]]:
        return list(self._list)

    def keys(self) -> Any:
        return self._dict.keys()

    def values(self) -> Any:
        return self._dict.values()

    def items(self) -> Any:
        return self._dict.items()

    def __getitem__(self, key: str) -> Any:
        return self._dict[key]

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, type(self)):
            return False
        return (sorted(self._list, key=lambda kv: kv[0])
                == sorted(other._list, key=lambda kv: kv[0]))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._list!r})"


class QueryParams(ImmutableMultiDict):
    """A request's query parameters (Starlette's QueryParams): made from a
    query string (blank values kept) or from pairs; `str()` is the query
    string again."""

    __slots__ = ()

    def __init__(self, query: Any = ()) -> None:
        if isinstance(query, bytes):
            query = query.decode("latin-1")
        if isinstance(query, str):
            query = parse_qsl(query, keep_blank_values=True)
        super().__init__(query)
        self._list = [(str(k), str(v)) for k, v in self._list]
        self._dict = {str(k): str(v) for k, v in self._dict.items()}

    def __str__(self) -> str:
        return urlencode(self._list)

    def __repr__(self) -> str:
        return f"QueryParams({str(self)!r})"


class FormData(ImmutableMultiDict):
    """A request's form: str values, and UploadFile for the file parts."""

    __slots__ = ()

    async def close(self) -> None:
        for _, value in self._list:
            if hasattr(value, "close") and hasattr(value, "filename"):
                await value.close()


class State:
    """`request.state`: attributes set and read during one request."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_state", {} if state is None else state)

    def __setattr__(self, name: str, value: Any) -> None:
        self._state[name] = value

    def __getattr__(self, name: str) -> Any:
        try:
            return self._state[name]
        except KeyError:
            raise AttributeError(f"'State' object has no attribute '{name}'") from None

    def __delattr__(self, name: str) -> None:
        del self._state[name]

    def __getitem__(self, name: str) -> Any:
        return self._state[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self._state[name] = value

    def __delitem__(self, name: str) -> None:
        del self._state[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __len__(self) -> int:
        return len(self._state)


def parse_cookies(fields: list[str]) -> dict[str, str]:
    """Cookie fields split as Starlette splits them: every `name=value`
    between semicolons (a chunk without '=' is a value with an empty
    name), both stripped, the value unquoted; a later name wins."""
    from http.cookies import _unquote

    out: dict[str, str] = {}
    for field in fields:
        for chunk in field.split(";"):
            key, sep, val = chunk.partition("=")
            if not sep:
                key, val = "", key
            key, val = key.strip(), val.strip()
            if key or val:
                out[key] = _unquote(val)
    return out


# ---- the request ------------------------------------------------------------------

_PATH_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z_][a-zA-Z0-9_]*))?}")


def url_path_for(app: Any, name: str, path_params: dict[str, Any]) -> str:
    """The path of the app's first route called name (its `name=`, else
    its function's name) whose path parameters are exactly those given,
    each written with str() as Starlette's converters write them."""
    for op in app._operations:
        if op.name != name:
            continue
        params = {m[1]: m[2] for m in _PATH_PARAM.finditer(op.path)}
        if set(params) != set(path_params):
            continue

        def value(m: re.Match[str]) -> str:
            v = path_params[m[1]]
            if m[2] == "path":
                return str(v)
            text = str(v)
            if "/" in text:
                raise AssertionError("May not contain path separators")
            if not text:
                raise AssertionError("Must not be empty")
            return text
        path = _PATH_PARAM.sub(value, op.path).replace("\\", "%5C")
        return "/%2F" + path[2:] if path.startswith("//") else path
    raise NoMatchFound(name, path_params)


class _FormCall:
    """What `request.form()` returns: awaited, the form; `async with`, the
    form, closed (its files) on the way out."""

    __slots__ = ("_request", "_form")

    def __init__(self, request: StarletteRequest) -> None:
        self._request = request

    def __await__(self) -> Any:
        return self._request._get_form().__await__()

    async def __aenter__(self) -> FormData:
        self._form = await self._request._get_form()
        return self._form

    async def __aexit__(self, *exc: Any) -> None:
        await self._form.close()


class StarletteRequest(_turbo._RequestView):
    """A FastAPI app's view of one request (see the module's docstring).
    Each App has its own subclass, whose `app` is the App. Made in C
    (turbo._RequestView: `StarletteRequest(request)`), which holds the C
    Request (`_req`) and the caches (`_body`, `_form`, `_url`,
    `_query_params`, `_cookies`: None until made; `_json` unset)."""

    __slots__ = ()

    app: Any = None

    # -- read through to the C request: method, headers, path_params, path
    # and query_string (turbo._RequestView's getters), and the rest here

    def __getattr__(self, name: str) -> Any:
        # stream(), _header(), _body_pending: the C request's own
        return getattr(self._req, name)

    # -- Starlette's

    @property
    def client(self) -> Address | None:
        client = self._req.client
        return Address(*client) if client is not None else None

    @property
    def query_params(self) -> QueryParams:
        q: QueryParams | None = self._query_params
        if q is None:
            q = self._query_params = QueryParams(self._req.query_string)
        return q

    @property
    def cookies(self) -> dict[str, str]:
        c = self._cookies
        if c is None:
            c = self._cookies = parse_cookies(self._req.headers.getlist("cookie"))
        return c

    @property
    def state(self) -> State:
        s: State | None = self._req._state
        if s is None:
            s = self._req._state = State()
        return s

    @property
    def url(self) -> URL:
        u: URL | None = self._url
        if u is None:
            req = self._req
            u = self._url = _request_url("http", req._header("host"), unquote(req.path),
                                         req.query_string)
        return u

    @property
    def base_url(self) -> URL:
        return _request_url("http", self._req._header("host"), "/", "")

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        """The absolute URL of the app's route called name (its `name=`, else
        its function's name) with those path parameters; NoMatchFound when
        no route has that name and exactly those parameters."""
        path = url_path_for(self.app, name, path_params)
        base = self.base_url
        return URL(scheme=base.scheme, netloc=base.netloc, path=base.path.rstrip("/") + path)

    @property
    def scope(self) -> dict[str, Any]:
        """A minimal ASGI scope: what the request's attributes are made of."""
        req = self._req
        return {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": req.method, "scheme": "http", "path": unquote(req.path),
            "raw_path": req.path.encode("latin-1"), "root_path": "",
            "query_string": req.query_string.encode("latin-1"),
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                        for k, v in req.headers.raw()],
            "client": self.client, "server": None, "path_params": req.path_params,
            "app": self.app, "state": self.state._state,
        }

    async def body(self) -> bytes:
        body = self._body
        if body is None:
            req = self._req
            if req._body_pending:  # a stream_body route: read it now
                body = b"".join([chunk async for chunk in req.stream()])
            else:
                body = req.body
            self._body = body
        return body

    async def json(self) -> Any:
        try:
            return self._json
        except AttributeError:  # not read yet
            pass
        value = self._json = json.loads(await self.body())
        return value

    def form(self, *, max_files: int | float = 1000, max_fields: int | float = 1000,
             max_part_size: int = 1024 * 1024) -> _FormCall:
        """The form (urlencoded or multipart; any other Content-Type: an
        empty one), split as FastAPI's forms are (turbo/_forms.py, with
        Starlette's default limits; others: ValueError)."""
        if (max_files, max_fields, max_part_size) != (1000, 1000, 1024 * 1024):
            raise ValueError("request.form(): turbo supports the default limits only "
                             "(max_files=1000, max_fields=1000, max_part_size=1 MiB)")
        return _FormCall(self)

    async def _get_form(self) -> FormData:
        form: FormData | None = self._form
        if form is None:
            from python_multipart.multipart import parse_options_header

            from . import _forms
            body = await self.body()
            content_type, params = parse_options_header(self._req._header("content-type"))
            if content_type == b"multipart/form-data":
                items = _forms._multipart(body, params)
            elif content_type == b"application/x-www-form-urlencoded":
                items = _forms._urlencoded(body)
            else:
                items = []
            form = self._form = FormData(items)
        return form

    async def close(self) -> None:
        form = self._form
        if form is not None:
            await form.close()

    async def is_disconnected(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<Request {self._req.method} {self._req.path}>"


def view_class(app: Any) -> type[StarletteRequest]:
    """The app's own request view class: its `app` is the App."""
    return type("Request", (StarletteRequest,), {"__slots__": (), "app": app,
                                                  "__module__": "turbo"})
