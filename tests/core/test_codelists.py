"""Town and industry names: every code the simulated district registers has its name, the same as the synth's."""

from __future__ import annotations

from core import codelists
from synth.params import district


def test_every_code_of_the_simulated_district_has_its_name():
    d = district()
    assert {t["code"]: codelists.town_zh(t["code"]) for t in d["town"]} == {t["code"]: t["zh"] for t in d["town"]}
    assert ({i["code"]: codelists.industry_zh(i["code"]) for i in d["industry"]}
            == {i["code"]: i["zh"] for i in d["industry"]})


def test_an_unknown_or_missing_code_has_no_name():
    assert codelists.town_zh("999999999") is None and codelists.industry_zh(None) is None
