"""The API's JSON renderer (orjson) writes what DRF's renderer would have written."""

import json
from decimal import Decimal

from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer

from api.renderers import JSONRenderer


def both(data):
    return JSONRenderer().render(data), DRFJSONRenderer().render(data)


def test_same_json_as_drf_for_plain_data():
    data = {"id": "1", "content": "<p>héllo ✓ 😀</p>", "n": 3, "ok": True, "none": None}
    ours, drf = both(data)
    assert json.loads(ours) == json.loads(drf) == data
    assert ours == drf  # compact, UTF-8, same key order


def test_line_separators_escaped_like_drf():
    ours, drf = both({"text": "a\u2028b\u2029c"})
    assert b"\\u2028" in ours and b"\\u2029" in ours
    assert json.loads(ours) == json.loads(drf)


def test_lazy_strings_decimals_and_huge_integers_fall_back_to_drf():
    data = {"msg": gettext_lazy("Not found."), "price": Decimal("8.00"), "big": 2**70}
    ours, drf = both(data)
    assert json.loads(ours) == json.loads(drf)


def test_none_renders_empty_and_indent_is_honoured():
    assert JSONRenderer().render(None) == b""
    pretty = JSONRenderer().render({"a": 1}, "application/json; indent=2")
    assert pretty == b'{\n  "a": 1\n}'
