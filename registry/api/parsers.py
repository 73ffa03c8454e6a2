"""JSON request bodies, refused with 400 when nested too deeply.

Python's JSON decoder recurses once per level, so a body of a few hundred
kilobytes of brackets exhausts the interpreter's stack and would end in a
500. Bodies deeper than the registry ever needs are refused as well, so code
that walks the parsed data recursively (serializers, the audit log) stays
safe.
"""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 100
TOO_DEEP = "JSON parse error - the body is nested too deeply."


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with a limit on how deep the body may nest."""

    max_depth = MAX_DEPTH

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None

        if _depth_exceeds(data, self.max_depth):
            raise ParseError(TOO_DEEP)
        return data


def _depth_exceeds(data, limit):
    """Whether lists and objects in ``data`` nest more than ``limit`` deep."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False
