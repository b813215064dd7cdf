"""A one-file Django project served unchanged by turbo (WSGI) and gunicorn
in test_frameworks.py: a URLconf, views, a form with CSRF protection, and
the admin's login page."""

import os

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="turbo-tests-not-secret",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    INSTALLED_APPS=[
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
    ],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ],
    TEMPLATES=[{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": [
            "django.template.context_processors.request",
            "django.contrib.auth.context_processors.auth",
            "django.contrib.messages.context_processors.messages",
        ]},
    }],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                           "NAME": os.environ.get("DJANGO_TEST_DB", ":memory:")}},
    USE_TZ=True,
    STATIC_URL="/static/",
)
django.setup()

from django import forms  # noqa: E402
from django.contrib import admin  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.middleware.csrf import get_token  # noqa: E402
from django.template import engines  # noqa: E402
from django.urls import path  # noqa: E402


class NameForm(forms.Form):
    name = forms.CharField(max_length=20)


PAGE = engines["django"].from_string(
    '<form method="post">{% csrf_token %}{{ form.as_p }}<button>Send</button></form>')


def hello(request):
    return HttpResponse("Hello from Django", content_type="text/plain")


def item(request, item_id):
    return JsonResponse({"id": item_id, "q": request.GET.getlist("q"),
                         "path": request.path, "full": request.get_full_path()})


def name_form(request):
    if request.method == "POST":
        form = NameForm(request.POST)
        if form.is_valid():
            return HttpResponse(f"hello {form.cleaned_data['name']}", content_type="text/plain")
        return HttpResponse(PAGE.render({"form": form}, request), status=400)
    get_token(request)
    return HttpResponse(PAGE.render({"form": NameForm()}, request))


urlpatterns = [
    path("", hello),
    path("items/<int:item_id>/", item),
    path("form/", name_form),
    path("admin/", admin.site.urls),
]

application = get_wsgi_application()
