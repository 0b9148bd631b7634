"""The credit-code check character (GB 32100-2015)."""

import pytest

from core import uscc


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000710935732K"])
def test_published_examples_are_valid(code):
    assert uscc.is_valid(code)
    assert uscc.check_character(code[:17]) == code[17]


def test_weights_are_powers_of_three_mod_31():
    assert uscc.WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@pytest.mark.parametrize(("code", "fragment"), [
    ("91350100M000100Y44", "expected 3"),
    ("91350100M000100Y4", "expected 18 characters"),
    ("91350100M0001O0Y43", "'O' is not allowed"),
    ("91350100m000100Y43", "'m' is not allowed"),
    (None, "expected an 18-character string"),
])
def test_invalid_codes_say_why(code, fragment):
    assert not uscc.is_valid(code)
    assert fragment in uscc.problem(code)
    with pytest.raises(uscc.InvalidCode, match="expected|not allowed"):
        uscc.validate(code)


def test_every_single_character_error_is_caught():
    code = "91110000710935732K"
    for i in range(17):
        for ch in uscc.ALPHABET:
            if ch != code[i]:
                assert not uscc.is_valid(code[:i] + ch + code[i + 1:])


def test_complete_appends_the_check_character():
    assert uscc.complete("91350100M000100Y4") == "91350100M000100Y43"
