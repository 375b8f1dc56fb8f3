"""The API's JSON renderer: DRF's, encoding with orjson.

A timeline page is ~20 statuses of ~30 fields each; DRF's ``json.dumps`` with its encoder
class took ~0.5 ms of a request for it, orjson ~0.05 ms (bench/profile_request.py). The output
is the same compact UTF-8 JSON, with U+2028/U+2029 escaped as DRF does. Anything orjson cannot
encode itself (lazy translation strings, Decimals, …) goes through DRF's encoder, what it
refuses (integers beyond 64 bits) through DRF's renderer, and an
``indent`` request (the browsable API) through DRF's renderer unchanged.

A value already encoded (``EncodedJSON``: a status joined from its cached bytes) is put in
place as it is by orjson; DRF's encoder (``indent``, the browsable API) decodes it first.
"""

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder


class EncodedJSON:
    """A JSON value already encoded (``encoded``: its UTF-8 bytes, compact, as orjson writes
    it), to be put in a response as it is."""

    __slots__ = ("encoded",)

    def __init__(self, encoded: bytes):
        self.encoded = encoded

    def __repr__(self) -> str:
        return f"EncodedJSON({self.encoded!r})"


class _Encoder(JSONEncoder):
    """DRF's encoder, decoding ``EncodedJSON`` (for the ``indent`` and browsable forms)."""

    def default(self, obj):
        if type(obj) is EncodedJSON:
            return orjson.loads(obj.encoded)
        return super().default(obj)


_DRF_DEFAULT = JSONEncoder().default


def _default(value):
    """What orjson cannot encode itself: ``EncodedJSON`` in place, the rest as DRF does."""
    if type(value) is EncodedJSON:
        return orjson.Fragment(value.encoded)
    return _DRF_DEFAULT(value)


class JSONRenderer(renderers.JSONRenderer):
    encoder_class = _Encoder

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            encoded = orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)
        except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits: DRF's encoder copes
            return super().render(data, accepted_media_type, renderer_context)
        # As DRF does: these two are valid JSON but end a line in JavaScript source.
        if b"\xe2\x80\xa8" in encoded or b"\xe2\x80\xa9" in encoded:
            encoded = encoded.replace(b"\xe2\x80\xa8", b"\\u2028").replace(
                b"\xe2\x80\xa9", b"\\u2029"
            )
        return encoded


class JSONLinesRenderer(renderers.BaseRenderer):
    """JSON lines (``?format=jsonl`` or ``Accept: application/jsonl``): a list as one JSON
    document per line, for bulk readers that stream; anything else as a single line."""

    media_type = "application/jsonl"
    format = "jsonl"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        items = data if isinstance(data, list) else [data]
        return b"".join(orjson.dumps(item, default=_default) + b"\n" for item in items)
