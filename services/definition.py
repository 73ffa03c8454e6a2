"""Reading and writing ``service-config.yaml`` files.

Files are composed into YAML nodes with no implicit typing at all and then
walked against ``SERVICE_CONFIG_SCHEMA``. The schema, not the YAML library,
decides what a scalar means, which gives YAML 1.2 behaviour where it matters:
``no``, ``on``, ``08`` and ``1.10`` stay the strings they look like wherever a
string is wanted, and only ``true``/``false`` are booleans. Walking nodes also
keeps the line of every value, so each error names file, line and field.

Aliases are followed, but a budget on visited nodes and on depth stops alias
bombs; duplicate keys, merge keys, explicit tags and oversized files are
refused outright.
"""

import re
from dataclasses import dataclass

import yaml
from django.conf import settings

from services.schema import SERVICE_CONFIG_SCHEMA

MAX_NODES = 20_000
MAX_DEPTH = 16
MAX_ALIASES = 50
MAX_ERRORS = 20

_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
_NULL = re.compile(r"^(~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True}
_BOOL.update({"false": False, "False": False, "FALSE": False})
_INT = re.compile(r"^[-+]?[0-9]+$")
_INT_OCT = re.compile(r"^0o[0-7]+$")
_INT_HEX = re.compile(r"^0x[0-9a-fA-F]+$")


class _Resolver(yaml.resolver.BaseResolver):
    """Resolves every plain scalar to a string; the schema types it later."""


class _Refused(yaml.MarkedYAMLError):
    """A document the loader will not compose: too deep, or too many aliases."""


class _Loader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    _Resolver,
):
    def __init__(self, stream):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Resolver.__init__(self)
        self.depth = 0
        self.aliases = 0

    def compose_node(self, parent, index):
        # Bounded here, before PyYAML's recursion could exhaust the stack.
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                problem = (
                    f"more than {MAX_ALIASES} aliases (*name); alias bombs are refused"
                )
                raise _Refused(problem=problem, problem_mark=mark)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            problem = f"nested deeper than {MAX_DEPTH} levels"
            raise _Refused(problem=problem, problem_mark=mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


@dataclass(frozen=True)
class Problem:
    line: int | None
    field: str
    message: str

    def describe(self, source):
        where = f"{source}:{self.line}" if self.line else source
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class DefinitionError(Exception):
    """A definition file that cannot be accepted; names file, line and field."""

    def __init__(self, source, problems):
        self.source = source
        self.problems = list(problems)
        super().__init__("; ".join(p.describe(source) for p in self.problems))

    def as_list(self):
        return [
            {
                "file": self.source,
                "line": p.line,
                "field": p.field,
                "message": p.message,
            }
            for p in self.problems
        ]


class _TooMuch(Exception):
    pass


def parse_definition(text, source="<input>"):
    """Parse and validate one definition; return it as plain Python data.

    Raises ``DefinitionError`` for anything wrong with the file.
    """
    if isinstance(text, bytes):
        size = len(text)
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DefinitionError(source, [Problem(None, "", f"not UTF-8: {exc}")])
    else:
        size = len(text.encode("utf-8"))
    limit = settings.MECH["MAX_CONFIG_BYTES"]
    if size > limit:
        message = f"file is larger than the limit of {limit} bytes"
        raise DefinitionError(source, [Problem(None, "", message)])

    node = _compose(text, source)
    walker = _Walker()
    try:
        value = walker.walk(node, SERVICE_CONFIG_SCHEMA, "", 0)
    except _TooMuch as exc:
        walker.problems.append(Problem(_line(node), "", str(exc)))
    if walker.problems:
        raise DefinitionError(source, walker.problems[:MAX_ERRORS])
    return value


def _compose(text, source):
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except _Refused as exc:
        line = exc.problem_mark.line + 1
        raise DefinitionError(source, [Problem(line, "", exc.problem)])
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        message = " ".join(filter(None, [exc.context, exc.problem]))
        raise DefinitionError(source, [Problem(line, "", f"invalid YAML: {message}")])
    except yaml.YAMLError as exc:
        raise DefinitionError(source, [Problem(None, "", f"invalid YAML: {exc}")])
    finally:
        loader.dispose()
    if node is None:
        raise DefinitionError(source, [Problem(None, "", "file is empty")])
    return node


def _line(node):
    return node.start_mark.line + 1


def _describe(node):
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.style in ("'", '"'):
        return f"the quoted string {node.value!r}"
    if _NULL.match(node.value):
        return "nothing (null)"
    return repr(node.value)


class _Walker:
    """Walks composed nodes against a JSON Schema subset, collecting problems."""

    def __init__(self):
        self.problems = []
        self.visited = 0

    def fail(self, node, field, message):
        self.problems.append(Problem(_line(node), field, message))

    def walk(self, node, schema, field, depth):
        self.visited += 1
        if self.visited > MAX_NODES:
            raise _TooMuch(f"more than {MAX_NODES} values (alias expansion?)")
        if depth > MAX_DEPTH:
            raise _TooMuch(f"nested deeper than {MAX_DEPTH} levels")
        if node.tag not in (_STR_TAG, _SEQ_TAG, _MAP_TAG):
            self.fail(node, field, f"YAML tags such as {node.tag} are not allowed")
            return None
        kind = schema["type"]
        return getattr(self, f"_walk_{kind}")(node, schema, field, depth)

    def _walk_object(self, node, schema, field, depth):
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, field, f"must be a mapping, not {_describe(node)}")
            return None
        result, seen, nulls = {}, set(), set()
        properties = schema["properties"]
        for key_node, value_node in node.value:
            key = self._key(key_node, field)
            if key is None:
                continue
            path = f"{field}.{key}" if field else key
            if key in seen:
                self.fail(key_node, path, "duplicate key")
                continue
            seen.add(key)
            if key not in properties:
                allowed = ", ".join(properties)
                self.fail(key_node, path, f"unknown field; allowed here: {allowed}")
            elif _is_null(value_node):
                # An empty value means the same as leaving the field out.
                nulls.add(key)
            else:
                result[key] = self.walk(value_node, properties[key], path, depth + 1)
        for name in schema.get("required", []):
            if name not in result:
                path = f"{field}.{name}" if field else name
                why = "must not be empty" if name in nulls else "is required"
                self.fail(node, path, why)
        return result

    def _key(self, key_node, field):
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR_TAG:
            self.fail(key_node, field, "keys must be plain strings")
            return None
        if key_node.value == "<<" and key_node.style is None:
            self.fail(key_node, field, "merge keys (<<) are not supported")
            return None
        return key_node.value

    def _walk_array(self, node, schema, field, depth):
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, field, f"must be a list, not {_describe(node)}")
            return None
        limit = schema.get("maxItems")
        if limit is not None and len(node.value) > limit:
            self.fail(node, field, f"has {len(node.value)} items; at most {limit}")
            return None
        items = [
            self.walk(item, schema["items"], f"{field}[{index}]", depth + 1)
            for index, item in enumerate(node.value)
        ]
        if schema.get("uniqueItems"):
            seen = set()
            for index, item in enumerate(items):
                if isinstance(item, str) and item in seen:
                    self.fail(node.value[index], f"{field}[{index}]", "repeats")
                seen.add(item)
        return items

    def _scalar(self, node, field, kind):
        if isinstance(node, yaml.ScalarNode):
            return True
        self.fail(node, field, f"must be {kind}, not {_describe(node)}")
        return False

    def _walk_string(self, node, schema, field, depth):
        if not self._scalar(node, field, "a string"):
            return None
        value = node.value
        if "enum" in schema and value not in schema["enum"]:
            allowed = ", ".join(schema["enum"])
            self.fail(node, field, f"{value!r} is not one of {allowed}")
        if len(value) < schema.get("minLength", 0):
            self.fail(node, field, "must not be empty")
        if len(value) > schema.get("maxLength", 1 << 30):
            self.fail(node, field, f"is longer than {schema['maxLength']} characters")
        pattern = schema.get("pattern")
        if pattern and not re.search(pattern, value):
            self.fail(node, field, f"{value!r} does not match {pattern}")
        return value

    def _walk_integer(self, node, schema, field, depth):
        if not self._scalar(node, field, "a whole number"):
            return None
        text = node.value
        if node.style is not None or not (
            _INT.match(text) or _INT_OCT.match(text) or _INT_HEX.match(text)
        ):
            self.fail(node, field, f"must be a whole number, not {_describe(node)}")
            return None
        value = int(text, 0) if text[:2] in ("0o", "0x") else int(text, 10)
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            self.fail(node, field, f"must be between {low} and {high}, not {value}")
        return value

    def _walk_boolean(self, node, schema, field, depth):
        if not self._scalar(node, field, "true or false"):
            return None
        if node.style is None and node.value in _BOOL:
            return _BOOL[node.value]
        self.fail(node, field, f"must be true or false, not {_describe(node)}")
        return None


def _is_null(node):
    return (
        isinstance(node, yaml.ScalarNode)
        and node.style is None
        and _NULL.match(node.value) is not None
    )


class _Dumper(yaml.SafeDumper):
    """Quotes every string that some YAML reader could take for another type."""


_AMBIGUOUS = re.compile(
    r"^(~|null|Null|NULL|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False"
    r"|FALSE|on|On|ON|off|Off|OFF|[-+]?(\.[0-9]+|[0-9][0-9_]*)(\.[0-9_]*)?"
    r"([eE][-+]?[0-9]+)?|0[box][0-9a-fA-F_]+|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
    r"|[0-9:]+|<<|=|)$"
)


def _represent_str(dumper, value):
    style = "'" if _AMBIGUOUS.match(value) else None
    if "\n" in value:
        style = "|"
    return dumper.represent_scalar(_STR_TAG, value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_definition(definition):
    """Render a definition as YAML that reads back to the same data."""
    return yaml.dump(
        definition,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
