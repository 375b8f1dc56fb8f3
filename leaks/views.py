"""The reviewer page: upload a leaked dump, see who received it, open a flag on a named reader.

Mounted in the admin site (``admin/review/leaks/``) behind the same checks as the review
screens: admin login, then the review permission. Provenance is personal data: nobody else
sees it. The named readers of the last traces are kept in the reviewer's session, so a flag is
opened from what the trace found, not from what a form claims.
"""

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods, require_POST

from access.views_review import review_view

from .dumps import DumpError
from .forms import FlagForm, TraceForm
from .services import leak_flag_open, leak_trace

SESSION_KEY = "leak_traces"
SESSION_TRACES_KEPT = 5


def _page(request, *, form, result=None, status=200):
    context = {
        **admin.site.each_context(request),
        "title": "Leak tracing",
        "form": form,
        "result": result,
    }
    return TemplateResponse(request, "leaks/trace.html", context, status=status)


@review_view
@require_http_methods(["GET", "POST"])
def trace(request):
    """GET: the upload form. POST: trace the uploaded dump and show the answer."""
    if request.method == "GET":
        return _page(request, form=TraceForm())
    form = TraceForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    try:
        result = leak_trace(
            data=form.cleaned_data["dump"].read(),
            fmt=form.cleaned_data["format"],
            actor=request.user,
            via="reviewer page",
        )
    except DumpError as exc:
        form.add_error("dump", str(exc))
        return _page(request, form=form, status=400)
    traces = request.session.get(SESSION_KEY, {})
    traces[result.sha256] = {r.principal: r.__dict__ for r in result.named}
    request.session[SESSION_KEY] = dict(list(traces.items())[-SESSION_TRACES_KEPT:])
    return _page(request, form=TraceForm(), result=result)


@review_view
@require_POST
def flag_open(request):
    """Open (or find) the leak flag on a reader the reviewer's trace named; show the flag."""
    form = FlagForm(request.POST)
    report = None
    if form.is_valid():
        trace = request.session.get(SESSION_KEY, {}).get(form.cleaned_data["sha256"], {})
        report = trace.get(form.cleaned_data["principal"])
    if report is None:
        messages.error(request, "Trace the dump again: that reader is not in your recent traces.")
        return redirect("admin:leaks_review:trace")
    flag = leak_flag_open(actor=request.user, report=report, sha256=form.cleaned_data["sha256"])
    messages.success(request, f"Flag #{flag.pk} is open on {flag.principal}; act on it below.")
    return redirect("admin:access_review:flag", flag_id=flag.pk)
