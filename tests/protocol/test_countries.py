"""The country table: a code for each name, English names for each code."""

from __future__ import annotations

from protocol.countries import COUNTRY_NAMES, ISO_3166_ALPHA2


def test_every_code_has_english_names_and_only_codes_do() -> None:
    assert set(COUNTRY_NAMES) == ISO_3166_ALPHA2
    for code, names in COUNTRY_NAMES.items():
        assert names, code
        assert len(set(names)) == len(names), code
        for name in names:
            assert name == name.strip() and name.isprintable(), code
            # The abbreviations of the tz table this came from are written out.
            assert "&" not in name and not name.startswith("St ") and "Rep." not in name, code


def test_current_and_usual_names() -> None:
    assert COUNTRY_NAMES["NG"] == ("Nigeria",)
    assert COUNTRY_NAMES["TR"] == ("Türkiye", "Turkey")
    assert COUNTRY_NAMES["GB"][0] == "United Kingdom"
    assert "Czechia" in COUNTRY_NAMES["CZ"]
