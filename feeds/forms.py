"""Forms for the feed pages: the composer and the timeline's paging parameters."""

from django import forms
from django.conf import settings
from django.core.validators import ProhibitNullCharactersValidator

from .models import MediaAttachment
from .selectors import PageRequest

# Post ids are 64-bit; anything larger could never match and would overflow the database.
MAX_POST_ID = 2**63 - 1


class PostForm(forms.Form):
    """The composer. The text rules (length after NFC, control characters) live in
    ``feeds.text.post_text_clean`` and the image rules in ``feeds.media``, which the services
    apply; the form only carries the text, the images and their alt texts."""

    text = forms.CharField(
        label="Post text",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    reply_to = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_POST_ID, widget=forms.HiddenInput
    )

    def __init__(self, *args, counter_id: str = "composer-count", **kwargs):
        super().__init__(*args, **kwargs)
        # Up to MEDIA_PER_POST images, each with its alt text. The files are judged by
        # ``feeds.media`` (the real format, not the name), so these are plain file fields.
        self.image_slots = []
        for slot in range(1, settings.MEDIA_PER_POST + 1):
            self.fields[f"image_{slot}"] = forms.FileField(
                label=f"Image {slot}",
                required=False,
                widget=forms.FileInput(
                    attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}
                ),
            )
            self.fields[f"alt_{slot}"] = forms.CharField(
                label=f"Alt text for image {slot}",
                required=False,
                strip=False,
                widget=forms.TextInput(
                    attrs={
                        "maxlength": str(MediaAttachment.DESCRIPTION_MAX),
                        "placeholder": "Describe the image for people who cannot see it",
                    }
                ),
            )
            self.image_slots.append((self[f"image_{slot}"], self[f"alt_{slot}"]))
        # The service's text rules explain NUL and other control characters in one message;
        # Django's own NUL check would answer first with a vaguer one.
        text = self.fields["text"]
        text.validators = [
            v for v in text.validators if not isinstance(v, ProhibitNullCharactersValidator)
        ]
        self.counter_id = counter_id
        self.max_chars = settings.POST_MAX_CHARACTERS
        self.fields["text"].widget.attrs.update(
            {
                "data-counter": counter_id,
                "data-max-chars": str(settings.POST_MAX_CHARACTERS),
                "aria-describedby": f"{counter_id} {counter_id}-help",
                "placeholder": "What's happening?",
            }
        )

    @property
    def image_errors(self) -> bool:
        """Whether an image or alt text was refused (the composer opens its image section)."""
        return any(name.startswith(("image_", "alt_")) for name in self.errors)


class PageForm(forms.Form):
    """Timeline paging from the query string: ``?max_id=<id of the last post seen>``."""

    max_id = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_POST_ID,
        error_messages={
            "invalid": "max_id must be a whole number: the id of the last post you saw.",
            "min_value": "max_id must be a positive post id.",
            "max_value": "max_id is larger than any post id.",
        },
    )

    def clean_max_id(self):
        # int() reads "١٢" as 12; an id in a URL is written in ASCII digits only.
        raw = str(self.data.get("max_id", ""))
        if raw and not raw.strip().isascii():
            raise forms.ValidationError(self.fields["max_id"].error_messages["invalid"])
        return self.cleaned_data["max_id"]

    def page_request(self) -> PageRequest:
        """The validated page; call only after ``is_valid()``."""
        return PageRequest(max_id=self.cleaned_data.get("max_id"))

    def error_message(self) -> str:
        return " ".join(message for errors in self.errors.values() for message in errors)
