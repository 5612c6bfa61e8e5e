"""What several sources' install forms share: a free-form, secret ``env``, and the form of
a package from an index (PyPI, npm)."""

from __future__ import annotations

from mcp_integrations.models import FormField, SourceForm

SECRET_ENV = FormField(
    "env", "map", secret=True, description="passed to the server; every value is secret"
)


def package_form(prefix: str, title: str, description: str, example: str) -> SourceForm:
    """A package named after ``prefix``, the executable it runs and its arguments."""
    package = FormField("package", required=True, description=f"e.g. {example}")
    fields = (
        FormField("command", description="the executable to run, when it has several"),
        FormField("args", "list", description="arguments after it"),
        SECRET_ENV,
    )
    return SourceForm(prefix, title, description, package, fields, admin=True)
