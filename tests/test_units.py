"""Specification of sizes as people write them, both ways."""

from __future__ import annotations

import pytest

from rhodos.units import format_size, parse_size


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (1000, "1000"),
        (4096, "4 KiB"),
        (256 << 10, "256 KiB"),
        (3 << 19, "1.5 MiB"),
        (1023 << 20, "1023 MiB"),
        (128 << 30, "128 GiB"),
    ],
)
def test_a_size_is_written_as_it_is_read(size: int, text: str) -> None:
    """Whole KiB below a MiB in KiB, below a GiB in MiB, larger in GiB, anything else in
    bytes; parse_size reads every one back."""
    assert format_size(size) == text
    assert parse_size(text) == size


def test_binary_and_decimal_units() -> None:
    """KiB is 1024 bytes and KB 1000, whatever the case and spacing."""
    assert parse_size("1 kib") == parse_size("1KiB") == 1024
    assert parse_size("2MB") == 2_000_000
    assert format_size(0) == "0"
    with pytest.raises(ValueError, match="KiB, MiB, GiB"):
        parse_size("12XB")
