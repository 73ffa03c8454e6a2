"""YAML is read safely, with the meanings of YAML 1.2, and refused clearly."""

import pytest

from services.actions import import_text
from services.definition import DefinitionError, parse_definition
from services.models import Service

pytestmark = pytest.mark.django_db

PITFALLS = """\
id: pitfalls
name: no
description: on
repository: {url: https://git.example.test/acme/pitfalls, branch: 08}
configuration:
  port: 8080
  environment:
    required: [ON, NO]
    optional: [Y, OFF]
endpoints:
  - {path: /v1.10, method: GET, description: 1.10}
"""


def errors_of(text, source="f.yaml"):
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, source)
    return caught.value.as_list()


def test_yaml_11_booleans_and_numbers_stay_strings_where_strings_are_wanted():
    report = import_text(PITFALLS.encode(), "pitfalls.yaml")

    assert report.errors == []
    service = Service.objects.get(slug="pitfalls")
    assert service.name == "no"
    assert service.description == "on"
    assert service.repository_branch == "08"
    assert service.required_env == ["ON", "NO"]
    assert service.optional_env == ["Y", "OFF"]
    assert service.port == 8080
    assert list(service.endpoints.values_list("path", "description")) == [
        ("/v1.10", "1.10")
    ]


def test_yes_is_not_a_boolean():
    text = "id: x\nname: X\nconfiguration: {port: 80}\ndeployment:\n"
    text += "  nginx: {enabled: yes, ssl: false}\n"

    assert errors_of(text) == [
        {
            "file": "f.yaml",
            "line": 5,
            "field": "deployment.nginx.enabled",
            "message": "must be true or false, not 'yes'",
        }
    ]


def test_quoted_true_is_not_a_boolean():
    text = "id: x\nname: X\nconfiguration: {port: 80}\ndeployment:\n"
    text += "  nginx: {enabled: 'true'}\n"

    (error,) = errors_of(text)

    assert error["message"] == "must be true or false, not the quoted string 'true'"


def test_duplicate_keys_are_refused_naming_the_second_line():
    text = "id: x\nname: First\nconfiguration: {port: 80}\nname: Second\n"

    assert errors_of(text) == [
        {"file": "f.yaml", "line": 4, "field": "name", "message": "duplicate key"}
    ]


def test_billion_laughs_is_refused_by_its_alias_count_and_imports_nothing():
    lines = ["id: bomb", "name: Bomb", "configuration: {port: 80}"]
    lines.append("a: &a [" + ", ".join(["lol"] * 9) + "]")
    for name, previous in zip("bcdefghi", "abcdefgh", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    text = "\n".join(lines) + "\n"

    report = import_text(text.encode(), "bomb.yaml")

    (error,) = report.errors
    assert error.as_list() == [
        {
            "file": "bomb.yaml",
            "line": 10,
            "field": "",
            "message": "more than 50 aliases (*name); alias bombs are refused",
        }
    ]
    assert Service.objects.count() == 0


def test_deep_nesting_is_refused_with_its_line_instead_of_crashing():
    text = "id: deep\nname: Deep\nconfiguration: {port: 80}\n"
    text += "description: " + "[" * 5000 + "]" * 5000 + "\n"

    report = import_text(text.encode(), "deep.yaml")

    (error,) = report.errors
    assert error.as_list() == [
        {
            "file": "deep.yaml",
            "line": 4,
            "field": "",
            "message": "nested deeper than 16 levels",
        }
    ]


def test_aliases_to_a_list_where_a_string_is_wanted_are_refused():
    text = "id: x\nname: X\nconfiguration: {port: 80}\ndeployment:\n"
    text += "  domains: &d [a.example.test]\nendpoints:\n"
    text += "  - {path: /a, method: GET, description: *d}\n"

    assert errors_of(text) == [
        {
            "file": "f.yaml",
            "line": 5,
            "field": "endpoints[0].description",
            "message": "must be a string, not a list",
        }
    ]


def test_file_over_the_size_limit_is_refused_before_parsing(settings):
    settings.MECH = {**settings.MECH, "MAX_CONFIG_BYTES": 2048}
    text = "id: big\nname: Big\nconfiguration: {port: 80}\n" + "# pad\n" * 400

    report = import_text(text.encode(), "big.yaml")

    (error,) = report.errors
    assert str(error) == "big.yaml: file is larger than the limit of 2048 bytes"
    assert Service.objects.count() == 0


def test_default_size_limit_is_256_kib():
    text = "id: big\nname: Big\nconfiguration: {port: 80}\n"
    text += "#" * (256 * 1024 - len(text))

    assert parse_definition(text.encode())["id"] == "big"
    (error,) = errors_of(text + "#")
    assert error["message"] == "file is larger than the limit of 262144 bytes"


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!python/object:os.system x", "tag:yaml.org,2002:python/object:os.system"),
        ("!!python/name:os.system ''", "tag:yaml.org,2002:python/name:os.system"),
        ("!secret x", "!secret"),
    ],
)
def test_explicit_tags_are_refused(value, tag):
    text = f"id: x\nname: {value}\nconfiguration: {{port: 80}}\n"

    assert errors_of(text) == [
        {
            "file": "f.yaml",
            "line": 2,
            "field": "name",
            "message": f"YAML tags such as {tag} are not allowed",
        }
    ]


def test_integer_tag_on_a_port_is_refused():
    (error,) = errors_of("id: x\nname: X\nconfiguration: {port: !!int 80}\n")

    assert error["field"] == "configuration.port"
    assert error["message"] == "YAML tags such as tag:yaml.org,2002:int are not allowed"


def test_octal_looking_port_is_read_as_decimal():
    definition = parse_definition("id: x\nname: X\nconfiguration: {port: 08080}\n")

    assert definition["configuration"]["port"] == 8080


def test_quoted_port_is_not_a_number():
    (error,) = errors_of("id: x\nname: X\nconfiguration: {port: '80'}\n")

    assert error["message"] == "must be a whole number, not the quoted string '80'"


def test_merge_keys_are_refused():
    text = "id: x\nname: X\nconfiguration:\n  <<: {port: 80}\n"

    problems = errors_of(text)

    assert problems[0] == {
        "file": "f.yaml",
        "line": 4,
        "field": "configuration",
        "message": "merge keys (<<) are not supported",
    }


def test_syntax_error_names_the_line():
    (error,) = errors_of("id: x\nname: [unclosed\nconfiguration: {port: 80}\n")

    assert error["line"] == 3
    assert error["message"].startswith("invalid YAML:")


def test_empty_file_is_refused():
    assert errors_of("") == [
        {"file": "f.yaml", "line": None, "field": "", "message": "file is empty"}
    ]
