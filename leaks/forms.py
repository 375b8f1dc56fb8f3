"""The reviewer page's forms."""

from django import forms

from .dumps import FORMATS

MAX_DUMP_BYTES = 20 * 1024 * 1024


class TraceForm(forms.Form):
    """A leaked dump to trace."""

    dump = forms.FileField(help_text="Mastodon or X-style JSON, JSON lines, CSV, or text.")
    format = forms.ChoiceField(choices=[(f, f) for f in FORMATS], initial="auto")

    def clean_dump(self):
        dump = self.cleaned_data["dump"]
        if dump.size > MAX_DUMP_BYTES:
            limit = MAX_DUMP_BYTES // 2**20
            raise forms.ValidationError(
                f"The file is {dump.size / 1e6:.1f} MB; upload at most {limit} MB."
            )
        return dump


class FlagForm(forms.Form):
    """Open (or find) the leak flag on one reader the last trace named."""

    sha256 = forms.RegexField(regex=r"^[0-9a-f]{64}$")
    principal = forms.CharField(max_length=64)
