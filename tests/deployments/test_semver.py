"""Semantic version parsing and precedence, checked against the spec."""

import itertools
import random

import pytest

from deployments import semver
from deployments.semver import Version

SPEC_CHAIN = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
]


def test_parse_splits_every_part():
    version = semver.parse("1.22.333-rc.1.x-y+build.007.sha-5")

    assert version.major == 1
    assert version.minor == 22
    assert version.patch == 333
    assert version.prerelease == ("rc", "1", "x-y")
    assert version.build == ("build", "007", "sha-5")
    assert version.is_prerelease


def test_str_round_trips_the_text():
    for text in ["0.0.0", "1.2.3-0.a", "10.20.30+meta", "1.0.0-x.7.z.92+001"]:
        assert str(semver.parse(text)) == text


@pytest.mark.parametrize(("lower", "higher"), list(itertools.pairwise(SPEC_CHAIN)))
def test_spec_example_chain_orders_each_neighbour(lower, higher):
    assert semver.parse(lower) < semver.parse(higher)
    assert semver.parse(higher) > semver.parse(lower)


def test_sorting_a_shuffled_spec_chain_restores_it():
    shuffled = SPEC_CHAIN[:]
    random.Random(7).shuffle(shuffled)

    assert sorted(shuffled, key=semver.sort_key) == SPEC_CHAIN


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.9.0", "1.10.0"),
        ("1.0.9", "1.0.10"),
        ("9.99.99", "10.0.0"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.0.0", "1.0.1-alpha"),
        ("1.0.0-2", "1.0.0-10"),
        ("1.0.0-999", "1.0.0-a"),
        ("1.0.0-A", "1.0.0-a"),
        ("1.0.0-rc.1", "1.0.0-rc.1.0"),
        ("1.0.0-alpha.2", "1.0.0-alpha-2"),
        ("2.0.0-rc.1", "2.0.0-rc1"),
    ],
)
def test_precedence_pairs(lower, higher):
    assert semver.parse(lower) < semver.parse(higher)
    assert semver.sort_key(lower) < semver.sort_key(higher)


def test_numeric_identifiers_compare_as_numbers_not_text():
    assert semver.parse("1.0.0-beta.11") > semver.parse("1.0.0-beta.9")
    assert "beta.11" < "beta.9"


def test_build_metadata_is_ignored_in_precedence():
    first = semver.parse("1.0.0+20130313144700")
    second = semver.parse("1.0.0+exp.sha.5114f85")

    assert first == second
    assert hash(first) == hash(second)
    assert not first < second and not second < first
    assert semver.parse("1.0.0-rc.1+b") < semver.parse("1.0.0")


def test_sort_key_breaks_build_metadata_ties_deterministically():
    versions = ["1.0.0+b", "1.0.0+a", "0.9.0"]

    assert sorted(versions, key=semver.sort_key) == ["0.9.0", "1.0.0+a", "1.0.0+b"]


def test_sort_key_accepts_a_version_or_its_text():
    assert semver.sort_key(semver.parse("1.2.3")) == semver.sort_key("1.2.3")


def test_version_does_not_compare_with_plain_text():
    assert semver.parse("1.0.0") != "1.0.0"
    with pytest.raises(TypeError):
        semver.parse("1.0.0") < "1.0.1"  # noqa: B015


def test_version_built_directly_orders_like_a_parsed_one():
    assert Version(1, 0, 0, ("rc", "1")) == semver.parse("1.0.0-rc.1")


def test_large_numbers_are_kept_exactly():
    big = "1.0.0-99999999999999999999999"
    assert semver.parse(big) > semver.parse("1.0.0-99999999999999999999998")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("1", "three numbers"),
        ("1.2", "three numbers"),
        ("1.2.3.4", "three numbers"),
        ("01.2.3", "leading zero"),
        ("1.02.3", "leading zero"),
        ("1.2.03", "leading zero"),
        ("1.2.3-01", "leading zero"),
        ("1.2.3-rc.01", "leading zero"),
        ("1.2.3-", "empty identifier"),
        ("1.2.3+", "empty identifier"),
        ("1.2.3-rc..1", "empty identifier"),
        ("1.2.3-rc.", "empty identifier"),
        ("1.2.3+a..b", "empty identifier"),
        ("1.2.3-rc_1", "ASCII letters"),
        ("1.2.3+a+b", "ASCII letters"),
        ("1.2.3-ä", "ASCII letters"),
        ("v1.2.3", "leading 'v'"),
        ("V1.2.3", "leading 'v'"),
        (" 1.2.3", "whole number"),
        ("1.2.3 ", "whole number"),
        ("1.2.x", "whole number"),
        ("-1.2.3", "three numbers"),
        ("1.2.٣", "whole number"),
        ("latest", "three numbers"),
    ],
)
def test_invalid_versions_are_refused_with_the_reason(text, reason):
    with pytest.raises(ValueError, match="not a semantic version|empty") as info:
        semver.parse(text)

    assert reason in str(info.value)
    assert not semver.is_valid(text)


def test_leading_zeros_are_allowed_in_build_metadata_and_text_identifiers():
    assert semver.is_valid("1.0.0+001")
    assert semver.is_valid("1.0.0-0a.01b")
    assert semver.is_valid("0.0.0-0")


def test_non_text_is_refused():
    with pytest.raises(ValueError, match="text"):
        semver.parse(123)
