"""Semantic versions (semver.org, version 2.0.0): parsing and precedence.

A release's version is ``MAJOR.MINOR.PATCH``, optionally followed by a
pre-release (``-rc.1``) and build metadata (``+build.5``). Precedence
compares the three numbers numerically, puts a pre-release below the plain
version it leads up to, compares pre-release identifiers one by one
(numbers numerically, other identifiers as ASCII text, numbers below text,
a longer list above its own prefix) and ignores build metadata.

Parsing is strict: ``v1.2.3`` is refused, because the spec says a leading
``v`` is not part of a semantic version. Registry tags spelled that way are
therefore not tracked as releases.
"""

import functools
import string
from dataclasses import dataclass

_IDENTIFIER_CHARS = frozenset(string.ascii_letters + string.digits + "-")


def _check_identifiers(text, part, *, numeric_leading_zero_ok):
    """Split a dot-separated pre-release or build part and validate it."""
    identifiers = tuple(text.split("."))
    for identifier in identifiers:
        if not identifier:
            raise ValueError(f"the {part} has an empty identifier")
        if not _IDENTIFIER_CHARS.issuperset(identifier):
            raise ValueError(
                f"the {part} identifier {identifier!r} may hold only ASCII "
                "letters, digits and '-'"
            )
        if (
            not numeric_leading_zero_ok
            and identifier.isdigit()
            and len(identifier) > 1
            and identifier[0] == "0"
        ):
            raise ValueError(
                f"the {part} identifier {identifier!r} is a number with a leading zero"
            )
    return identifiers


def _parse_number(text, name):
    if not text:
        raise ValueError(f"the {name} version is empty")
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"the {name} version {text!r} is not a whole number")
    if len(text) > 1 and text[0] == "0":
        raise ValueError(f"the {name} version {text!r} has a leading zero")
    return int(text)


def _identifier_key(identifier):
    # Numeric identifiers sort below alphanumeric ones, whatever their value.
    if identifier.isdigit():
        return (0, int(identifier), "")
    return (1, 0, identifier)


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    """A parsed semantic version, ordered by precedence.

    Two versions that differ only in build metadata are equal (and hash
    alike), as the spec gives them the same precedence; ``str()`` keeps the
    build metadata.
    """

    major: int
    minor: int
    patch: int
    prerelease: tuple = ()
    build: tuple = ()

    def __str__(self):
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    @property
    def is_prerelease(self):
        return bool(self.prerelease)

    @property
    def precedence(self):
        """A tuple that orders versions exactly as the spec does."""
        core = (self.major, self.minor, self.patch)
        if not self.prerelease:
            return (*core, 1, ())
        return (*core, 0, tuple(_identifier_key(i) for i in self.prerelease))

    def __eq__(self, other):
        if not isinstance(other, Version):
            return NotImplemented
        return self.precedence == other.precedence

    def __lt__(self, other):
        if not isinstance(other, Version):
            return NotImplemented
        return self.precedence < other.precedence

    def __hash__(self):
        return hash(self.precedence)


def parse(text):
    """Parse ``text`` into a ``Version``; raise ``ValueError`` saying why not."""
    if not isinstance(text, str):
        raise ValueError(f"a version is text, not {type(text).__name__}")
    if not text:
        raise ValueError("the version is empty")
    try:
        return _parse(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a semantic version: {exc}") from None


def _parse(text):
    if text[0] in "vV" and text[1:2].isdigit():
        raise ValueError("drop the leading 'v' (write 1.2.3, not v1.2.3)")

    rest, plus, build_text = text.partition("+")
    build = ()
    if plus:
        build = _check_identifiers(
            build_text, "build metadata", numeric_leading_zero_ok=True
        )

    core, dash, pre_text = rest.partition("-")
    prerelease = ()
    if dash:
        prerelease = _check_identifiers(
            pre_text, "pre-release", numeric_leading_zero_ok=False
        )

    numbers = core.split(".")
    if len(numbers) != 3:
        raise ValueError("it needs exactly three numbers, MAJOR.MINOR.PATCH")
    major, minor, patch = (
        _parse_number(value, name)
        for value, name in zip(numbers, ("major", "minor", "patch"), strict=True)
    )
    return Version(major, minor, patch, prerelease, build)


def is_valid(text):
    """True when ``text`` parses as a semantic version."""
    try:
        parse(text)
    except ValueError:
        return False
    return True


def sort_key(version):
    """A key for ``sorted()``: precedence first, then build metadata as text.

    Accepts a ``Version`` or its text. The build metadata only breaks ties
    between versions of equal precedence, so sorting is deterministic.
    """
    if not isinstance(version, Version):
        version = parse(version)
    return (version.precedence, version.build)
