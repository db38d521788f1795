"""The rate grammar: every accepted form, every rejected form, and properties."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from drf_ratelimit._spec.rates import UNIT_SECONDS, Rate, is_dotted_path, parse_rate, parse_rates
from drf_ratelimit.exceptions import InvalidRate

ACCEPTED: list[tuple[object, tuple[int, int]]] = [
    # single-letter units
    ("5/s", (5, 1)),
    ("5/m", (5, 60)),
    ("5/h", (5, 3600)),
    ("5/d", (5, 86400)),
    ("100/s", (100, 1)),
    ("100/m", (100, 60)),
    ("1000/h", (1000, 3600)),
    ("800/d", (800, 86400)),
    # multipliers
    ("100/15m", (100, 900)),
    ("3/2d", (3, 172800)),
    ("400/10m", (400, 600)),
    ("100/10s", (100, 10)),
    ("100/5m", (100, 300)),
    ("100/300s", (100, 300)),
    ("10/15minutes", (10, 900)),
    # no unit: seconds
    ("100/10", (100, 10)),
    ("5/60", (5, 60)),
    ("100/300", (100, 300)),
    # DRF words, singular and plural
    ("100/day", (100, 86400)),
    ("100/days", (100, 86400)),
    ("5/minute", (5, 60)),
    ("5/minutes", (5, 60)),
    ("5/min", (5, 60)),
    ("5/mins", (5, 60)),
    ("10/hour", (10, 3600)),
    ("10/hours", (10, 3600)),
    ("2/hr", (2, 3600)),
    ("2/hrs", (2, 3600)),
    ("1/sec", (1, 1)),
    ("1/secs", (1, 1)),
    ("5/second", (5, 1)),
    ("5/seconds", (5, 1)),
    ("3/2days", (3, 172800)),
    # leading zeros and zero count
    ("007/m", (7, 60)),
    ("0/m", (0, 60)),
    ("5/01m", (5, 60)),
    # tuples and Rate objects
    ((5, 60), (5, 60)),
    ((0, 1), (0, 1)),
    ((100, 300), (100, 300)),
    (Rate(5, 60), (5, 60)),
    (Rate(0, 86400), (0, 86400)),
]


@pytest.mark.parametrize(("value", "expected"), ACCEPTED, ids=repr)
def test_accepted_rate_forms(value: object, expected: tuple[int, int]) -> None:
    rate = parse_rate(value)
    assert isinstance(rate, Rate)
    assert (rate.limit, rate.period) == expected


def test_none_means_no_limit() -> None:
    assert parse_rate(None) is None


def test_rate_object_is_returned_as_is() -> None:
    rate = Rate(3, 7)
    assert parse_rate(rate) is rate


REJECTED: list[object] = [
    "5/M",
    "5/Minute",
    "1/H",
    "5/x",
    "5/",
    "5/ m",
    " 5/m",
    "5/m ",
    "5/10mx",
    "10/1.5m",
    "1.5/m",
    "abc",
    "abc/m",
    "5",
    "-1/m",
    "5/-1m",
    "10/month",
    "\u0663/m",  # ARABIC-INDIC DIGIT THREE: only ASCII digits count
    "10/millisecond",
    "10/y",
    "10/S",
    "5/0",
    "5/0s",
    "1/0m",
    "5/00d",
    (5, 0),
    (5, -1),
    (-1, 60),
    (5,),
    (),
    (5, 60, 1),
    (True, 60),
    (5, True),
    (5.0, 60),
    ("5", "60"),
    [5, 60],
    5,
    5.0,
    b"5/m",
    "10/m/x",
    "",
    "/m",
    "5//m",
]


@pytest.mark.parametrize("value", REJECTED, ids=repr)
def test_rejected_rate_forms(value: object) -> None:
    with pytest.raises(InvalidRate) as excinfo:
        parse_rate(value)
    assert repr(value) in str(excinfo.value)


def test_invalid_rate_is_improperly_configured() -> None:
    assert issubclass(InvalidRate, ImproperlyConfigured)
    with pytest.raises(ImproperlyConfigured):
        parse_rate("5/M")


def test_error_names_the_source() -> None:
    with pytest.raises(InvalidRate, match=r"RATELIMIT_X='5/M'"):
        parse_rate("5/M", source="RATELIMIT_X")


def test_huge_count_is_invalid_rate_not_value_error() -> None:
    # More digits than int() accepts (sys.get_int_max_str_digits) must still be
    # an InvalidRate, not a bare ValueError.
    for value in ("1" * 5000 + "/m", "5/" + "1" * 5000 + "s"):
        with pytest.raises(InvalidRate):
            parse_rate(value)


@pytest.mark.parametrize(("limit", "period"), [(5, 0), (5, -1), (-1, 60)])
def test_rate_constructor_validates(limit: int, period: int) -> None:
    with pytest.raises(InvalidRate):
        Rate(limit, period)


def test_str_is_the_normalised_cache_key_form() -> None:
    assert str(Rate(100, 300)) == "100/300s"
    assert str(parse_rate("5/m")) == "5/60s"
    assert str(parse_rate("1/d")) == "1/86400s"


def test_equivalent_forms_parse_equal() -> None:
    rates = {parse_rate(v) for v in ("100/5m", "100/300s", "100/300", (100, 300))}
    assert rates == {Rate(100, 300)}
    assert len({str(r) for r in rates}) == 1


def test_rate_is_hashable_and_ordered() -> None:
    assert Rate(1, 60) < Rate(2, 1)
    assert Rate(5, 60) == Rate(5, 60)
    assert hash(Rate(5, 60)) == hash(Rate(5, 60))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("myapp.rates.by_plan", True),
        ("a.b", True),
        ("_a._b", True),
        ("tests.test_keys.some_func", True),
        ("a1.b2.c3", True),
        ("a", False),
        ("", False),
        ("a.", False),
        (".a", False),
        ("a..b", False),
        ("1a.b", False),
        ("a.1b", False),
        ("a.b c", False),
        ("a-b.c", False),
        ("10/1.5m", False),
        ("1.5/m", False),
        ("5/m", False),
        ("a.b\n", False),
    ],
)
def test_is_dotted_path(value: str, expected: bool) -> None:
    assert is_dotted_path(value) is expected


# ---------------------------------------------------------------- properties

_UNITS = sorted(UNIT_SECONDS)
_GRAMMAR = re.compile(r"[0-9]+/[0-9]*(?:" + "|".join(map(re.escape, _UNITS)) + r")?")


@given(
    count=st.integers(min_value=0, max_value=10**12),
    multiplier=st.integers(min_value=1, max_value=10**6),
    unit=st.sampled_from(_UNITS),
)
def test_property_count_multiplier_unit(count: int, multiplier: int, unit: str) -> None:
    rate = parse_rate(f"{count}/{multiplier}{unit}")
    assert rate == Rate(count, multiplier * UNIT_SECONDS[unit])


@given(count=st.integers(min_value=0, max_value=10**12), unit=st.sampled_from(_UNITS))
def test_property_unit_without_multiplier(count: int, unit: str) -> None:
    assert parse_rate(f"{count}/{unit}") == Rate(count, UNIT_SECONDS[unit])


def _check_text(text: str) -> None:
    try:
        rate = parse_rate(text)
    except InvalidRate as exc:
        assert repr(text) in str(exc)
        return
    assert isinstance(rate, Rate)
    assert _GRAMMAR.fullmatch(text) is not None
    assert rate.period > 0
    assert rate.limit >= 0


@given(st.text())
def test_property_any_text_is_a_rate_or_invalid_rate(text: str) -> None:
    _check_text(text)
    if _GRAMMAR.fullmatch(text) is None:
        with pytest.raises(InvalidRate):
            parse_rate(text)


@given(st.from_regex(r"[0-9 .\-]{0,4}/[0-9 .]{0,3}[a-zA-Z/ ]{0,8}", fullmatch=True))
def test_property_near_miss_text_is_a_rate_or_invalid_rate(text: str) -> None:
    _check_text(text)
    if _GRAMMAR.fullmatch(text) is None:
        with pytest.raises(InvalidRate):
            parse_rate(text)


# ---------------------------------------------------------------- parse_rates


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5/m", (Rate(5, 60),)),
        ((10, 60), (Rate(10, 60),)),
        (Rate(3, 7), (Rate(3, 7),)),
        (["10/s", "1000/d"], (Rate(10, 1), Rate(1000, 86400))),
        (("10/s", "1000/d"), (Rate(10, 1), Rate(1000, 86400))),
        ([(10, 60)], (Rate(10, 60),)),
        ([(10, 60), "5/h"], (Rate(10, 60), Rate(5, 3600))),
        (((10, 60), (1, 1)), (Rate(10, 60), Rate(1, 1))),
        ([None, "5/m", None], (Rate(5, 60),)),
        (["5/m", "5/m"], (Rate(5, 60), Rate(5, 60))),
        (None, ()),
        ([], ()),
        ((), ()),
        ([None], ()),
    ],
    ids=repr,
)
def test_parse_rates(value: object, expected: tuple[Rate, ...]) -> None:
    assert parse_rates(value) == expected


def test_parse_rates_keeps_the_order_given() -> None:
    assert parse_rates(["1000/d", "10/s"]) == (Rate(1000, 86400), Rate(10, 1))


def test_a_pair_of_integers_stays_one_rate() -> None:
    """``(10, 60)`` is one rate, not the two rates 10 and 60."""
    assert parse_rates((10, 60)) == (Rate(10, 60),)
    assert parse_rates((0, 1)) == (Rate(0, 1),)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (["5/m", "bogus"], "rate[1]='bogus'"),
        (["bogus"], "rate[0]='bogus'"),
        (("5/m", "10/S"), "rate[1]='10/S'"),
        ([None, "5/m", (5, 0)], "rate[2]=(5, 0)"),
        (["5/m", ["1/s"]], "rate[1]=['1/s']"),
        ((True, 60), "rate[0]=True"),
        ((5, 60, 1), "rate[0]=5"),
        ([5], "rate[0]=5"),
    ],
    ids=repr,
)
def test_parse_rates_error_names_the_index(value: object, fragment: str) -> None:
    with pytest.raises(InvalidRate) as excinfo:
        parse_rates(value)
    assert fragment in str(excinfo.value)


def test_parse_rates_error_names_the_source_and_index() -> None:
    source = "REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['anon']"
    with pytest.raises(InvalidRate) as excinfo:
        parse_rates(["5/m", "5/M"], source=source)
    assert f"{source}[1]='5/M'" in str(excinfo.value)


def test_parse_rates_single_error_names_the_source_without_index() -> None:
    with pytest.raises(InvalidRate, match=r"^Throttle\.rate='bogus' "):
        parse_rates("bogus", source="Throttle.rate")


@pytest.mark.parametrize("value", [5, 5.0, b"5/m", {"5/m"}, {"rate": "5/m"}], ids=repr)
def test_parse_rates_rejects_non_rates(value: object) -> None:
    with pytest.raises(InvalidRate) as excinfo:
        parse_rates(value)
    assert repr(value) in str(excinfo.value)


@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 10**6)), max_size=5))
def test_property_a_list_of_pairs_is_one_rate_each(pairs: list[tuple[int, int]]) -> None:
    assert parse_rates(pairs) == tuple(Rate(count, period) for count, period in pairs)


@pytest.mark.parametrize("value", [(3, "m"), (3, 1.5), (3, None)])
def test_parse_rates_reports_a_malformed_pair_as_one_rate(value: tuple[object, ...]) -> None:
    """``(3, 'm')`` is a broken (count, seconds) pair, not a list of two rates."""
    with pytest.raises(InvalidRate, match=re.escape(f"rate={value!r} is not a (count, seconds)")):
        parse_rates(value)
