"""turbo.Jinja2Templates' refusals (its pages are compared with FastAPI's
in test_fastapi_diff.py, templates_app)."""

import pytest

jinja2 = pytest.importorskip("jinja2")

import turbo  # noqa: E402


def test_directory_or_env_exactly_one():
    with pytest.raises(TypeError, match="either directory or env, not both or neither"):
        turbo.Jinja2Templates()
    with pytest.raises(TypeError, match="either directory or env, not both or neither"):
        turbo.Jinja2Templates("templates", env=jinja2.Environment())


def test_an_env_given_renders_with_url_for_and_the_context(tmp_path):
    env = jinja2.Environment(loader=jinja2.DictLoader({"p.html": "{{ a }}|{{ request }}"}),
                             autoescape=True)
    templates = turbo.Jinja2Templates(env=env, context_processors=[lambda r: {"a": "<x>"}])
    class Req:
        def __str__(self):
            return "R"

    r = templates.TemplateResponse(Req(), "p.html")
    assert (r.status_code, r.body, r.media_type) == (200, b"&lt;x&gt;|R", "text/html")
    assert "url_for" in env.globals and r.template.name == "p.html"


def test_the_older_signature_and_background_are_refused():
    templates = turbo.Jinja2Templates(env=jinja2.Environment(
        loader=jinja2.DictLoader({"p.html": ""})))
    with pytest.raises(TypeError, match=r"the request comes first"):
        templates.TemplateResponse("p.html", {"request": None})
    with pytest.raises(TypeError, match=r"background=\.\.\.\) is not supported yet"):
        templates.TemplateResponse(object(), "p.html", background=print)
    with pytest.raises(jinja2.TemplateNotFound):
        templates.TemplateResponse(object(), "nope.html")
