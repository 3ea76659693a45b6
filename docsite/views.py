"""Documentation pages: the public guide, the staff-only internal docs, and the API schema UIs."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import condition, require_GET, require_safe
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from docsite.redoc_bundle import redoc_bundle
from docsite.rendering import docs_page_render, docs_section_pages, page_url, pygments_css
from docsite.sdk_builds import sdk_build_by_filename

# The staff login (the admin's, wherever ADMIN_URL_PATH puts it).
LOGIN_URL = reverse_lazy("admin:login")


def staff_required(view):
    """Send anonymous visitors to the staff login and refuse (403) logged-in non-staff.

    Django's `staff_member_required` would send a logged-in customer back to the login
    form, which reads as "wrong password"; a 403 says what is true.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), LOGIN_URL)
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied("Internal docs are for gateway staff.")
        return view(request, *args, **kwargs)

    return wrapper


def _render_page(request: HttpRequest, *, section: str, slug: str) -> HttpResponse:
    page = docs_page_render(section=section, slug=slug)
    if page is None:
        raise Http404("No such documentation page.")
    nav = [
        {"title": p.title, "url": page_url(section, p.slug), "current": p.slug == page.slug}
        for p in docs_section_pages(section=section)
    ]
    context = {
        "page": page,
        "nav": nav,
        "section": section,
        "section_title": "Integration guide" if section == "public" else "Internal docs",
        "section_url": page_url(section, "index"),
    }
    return render(request, "docsite/page.html", context)


@require_GET
def public_page(request: HttpRequest, page: str = "index") -> HttpResponse:
    if page == "index" and request.path != page_url("public", "index"):
        raise Http404  # /docs/index/ would duplicate /docs/
    return _render_page(request, section="public", slug=page)


@require_GET
@staff_required
def internal_page(request: HttpRequest, page: str = "index") -> HttpResponse:
    if page == "index" and request.path != page_url("internal", "index"):
        raise Http404
    return _render_page(request, section="internal", slug=page)


@require_GET
def highlight_css(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(pygments_css(), content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response


class SchemaView(SpectacularAPIView):
    """The schema is public: no token needed to read it, and no throttle on it.

    A browser (it asks for HTML first) gets the YAML as `text/plain`, so it shows the
    schema instead of downloading an `application/vnd.oai.openapi` file; tools keep the
    OpenAPI media types, and `?format=json` still answers JSON.
    """

    authentication_classes: list = []
    throttle_classes: list = []

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        accept = request.META.get("HTTP_ACCEPT", "")
        wants_page = accept.split(",", 1)[0].strip().startswith("text/html")
        if wants_page and "yaml" in getattr(response.accepted_renderer, "format", ""):
            response.content_type = "text/plain; charset=utf-8"  # read when rendered
        return response


class SwaggerView(SpectacularSwaggerSplitView):
    """Swagger UI from the app's own static files, its init script a separate URL (strict CSP)."""

    template_name = "docsite/swagger_ui.html"
    authentication_classes: list = []
    throttle_classes: list = []


class RedocView(SpectacularRedocView):
    """ReDoc from the app's own files; drf-spectacular's template loads Google Fonts."""

    template_name = "docsite/redoc.html"
    authentication_classes: list = []
    throttle_classes: list = []

    @staticmethod
    def _redoc_standalone() -> str:
        return reverse("docsite:redoc-bundle")


@require_GET
@condition(etag_func=lambda request: redoc_bundle()[1])
def redoc_bundle_js(request: HttpRequest) -> HttpResponse:
    """Serve ReDoc's bundle without its CDN logo (docsite/redoc_bundle.py says why)."""
    response = HttpResponse(redoc_bundle()[0], content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response


def _sdk_etag(request: HttpRequest, filename: str) -> str | None:
    build = sdk_build_by_filename(filename)
    return build.sha256 if build else None


@require_safe  # HEAD too: `curl -I`, and caches checking the ETag
@condition(etag_func=_sdk_etag)
def sdk_download(request: HttpRequest, filename: str) -> FileResponse:
    """Send one SDK build (the npm tarball or the wheel) that the docs' install commands name.

    The URL is stable per version, but a checkout may rebuild the same version, so caches
    revalidate after an hour against the ETag (the file's sha256) instead of keeping it
    forever; `Repr-Digest` (RFC 9530) carries the same checksum the docs print.
    """
    build = sdk_build_by_filename(filename)
    if build is None:
        raise Http404("No such SDK build.")
    response = FileResponse(
        build.path.open("rb"),
        as_attachment=True,
        filename=build.filename,
        content_type=build.content_type,
    )
    response["Cache-Control"] = "public, max-age=3600"
    response["Repr-Digest"] = f"sha-256=:{build.sha256_base64}:"
    return response
