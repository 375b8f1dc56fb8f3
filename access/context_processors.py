"""Template context for the read meter shown on every page."""

from django.utils.functional import SimpleLazyObject

from .selectors import read_meter_get


def read_meter(request):
    """``read_meter``: the reader's budget state (see ``ReadMeter``), looked up lazily so a
    page that does not show the meter costs nothing, and never charged."""
    return {"read_meter": SimpleLazyObject(lambda: read_meter_get(request=request))}
