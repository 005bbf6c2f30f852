"""docs/fixtures.md is generated from the fixtures' docstrings (tests/fixture_reference.py);
these tests fail when the two drift, when a fixture's docstring lacks a required line, or
when a builder's documented defaults are not the ones its factory uses."""

import inspect

import pytest

import factories
import fixture_reference


def test_fixture_reference_file_matches_docstrings():
    """The committed reference is exactly what the generator writes from the docstrings
    (run `make fixture-docs` after changing a fixture)."""
    text = fixture_reference.render(fixture_reference.fixtures())

    assert fixture_reference.REFERENCE.read_text(encoding="utf-8") == text


def test_fixture_reference_every_fixture_documented():
    """Every fixture has `Gives:`/`Call:`, `Creates:` and `Side effects:`; none is missing
    from the reference."""
    items = fixture_reference.fixtures()

    assert fixture_reference.problems(items) == []
    assert {f.name for f in items} >= {
        "client",
        "test_db",
        "make_user",
        "make_group",
        "manager_user",
        "count_queries",
    }


@pytest.mark.parametrize(
    ("fixture", "factory"),
    [
        ("make_user", factories.create_user),
        ("make_group", factories.create_group),
        ("add_member", factories.add_member),
        ("make_course", factories.create_course),
        ("assign_course", factories.assign_course),
    ],
)
def test_fixture_reference_builder_defaults_match_factory(fixture, factory):
    """Each keyword default the factory really uses is written `name=default` in the
    builder's `Call:` line (`make_group`'s `creator` defaults to `manager_user`)."""
    items = {f.name: f for f in fixture_reference.fixtures()}
    call = dict(items[fixture].sections)["Call"]
    for parameter in inspect.signature(factory).parameters.values():
        if parameter.default is inspect.Parameter.empty or parameter.name == "test_db":
            continue
        default = parameter.default
        shown = f'"{default}"' if isinstance(default, str) else repr(default)
        assert f"{parameter.name}={shown}" in call, (fixture, parameter.name)
