#!/usr/bin/python3
"""Prints what PyTorch shows between ``tensor(`` and the suffixes for the TensorFormatTest cases.

Run with Debian's torch (1.13) from any directory:

    /usr/bin/python3 make_expected.py

For each case it prints the case name (the name of the test method in TensorFormatTest) and
then ``torch._tensor_str._tensor_str(t, indent=len("tensor("))`` laid out as a Java text
block, indented for a method body, ready to paste into the test. The data of each case below
is spelled the same way the Java test builds it: decimal float literals (checked here to be
the float32 that Java's ``1.5f`` parses to) or formulas on exactly representable values.
"""
import math
from fractions import Fraction

import torch
import torch._tensor_str as tensor_str

INDENT = len("tensor(")
NAN = float("nan")
INF = float("inf")


def f32(*texts):
    """A float32 vector from decimal literals, checked to be the float32 nearest to each literal
    (as Java's ``Float.parseFloat`` gives), not a double rounded twice."""
    values = torch.tensor([float(t) for t in texts], dtype=torch.float32)
    for text, v in zip(texts, values):
        if not math.isfinite(float(text)):
            continue
        exact = Fraction(text)
        down = torch.nextafter(v, torch.tensor(-INF))
        up = torch.nextafter(v, torch.tensor(INF))
        error = abs(Fraction(v.item()) - exact)
        assert error <= abs(Fraction(down.item()) - exact), text
        assert error <= abs(Fraction(up.item()) - exact), text
    return values


def i32(*values):
    return torch.tensor(values, dtype=torch.int32)


def cases():
    # Fixed mode: 4 decimals, right-aligned; 0.03125 is a tie that rounds to even (0.0312).
    yield "fixedMixed", f32("1.5", "-0.25", "3.14159", "10.0625", "-7.75", "0", "0.03125", "2.00005")
    # Int mode: all finite values are integers.
    yield "intModeFloats", f32("1", "2", "-3", "0", "10", "250")
    # Sci mode: the smallest nonzero |value| is below 1e-4.
    yield "sciTiny", f32("0.00001", "2.5e-5", "-3e-6", "0.000123456")
    # Sci mode: integers above 1e8.
    yield "sciHugeIntegers", f32("1.5e9", "-2e8", "300000000")
    # Sci mode: max / min of the nonzero |values| above 1000, not integers.
    yield "sciRatio", f32("0.001", "2", "-5.5", "0")
    # Sci mode rounds the exact binary value half to even: 105.125 -> 1.0512e+02.
    yield "sciTies", f32("105.125", "0.0625", "-0.001953125")
    # Sci mode: integers whose max / min is above 1000.
    yield "sciRatioIntegers", f32("1", "2000", "-3")
    # Non-finite values among fixed, int and sci values.
    yield "nonFiniteFixed", f32("nan", "inf", "-inf", "1.25", "-2.5")
    yield "nonFiniteIntMode", f32("1", "nan", "-inf", "3")
    yield "nonFiniteSci", f32("0.00001", "inf", "nan", "-inf")
    # No nonzero finite value: the width stays 1 and int mode prints "0.".
    yield "onlyZerosAndNonFinite", f32("nan", "0", "-0", "inf")
    # Negative zero keeps its sign in every mode.
    yield "negativeZeroFixed", f32("-0", "0", "1.5")
    yield "negativeZeroSci", f32("-0", "0.00001")
    # 2-D and 3-D: i * 0.125 - 0.75 and i * 0.5 - 5.25 (exact in float32).
    yield "matrix", (torch.arange(12, dtype=torch.float32) * 0.125 - 0.75).reshape(3, 4)
    yield "rank3", (torch.arange(24, dtype=torch.float32) * 0.5 - 5.25).reshape(2, 3, 4)
    # 4-D: blank lines grow with the rank.
    yield "rank4Integers", (torch.arange(16, dtype=torch.float32) - 8).reshape(2, 2, 2, 2)
    # 30 values, width 8: (80 - 7) // 10 = 7 per line.
    yield "wrappedVector", torch.arange(30, dtype=torch.float32) * 0.5 - 7.25
    # Rows of a matrix wrap too, with their own indent.
    yield "wrappedRows", (torch.arange(40, dtype=torch.float32) * 0.25 - 4.125).reshape(2, 20)
    # 1600 elements, summarized; the huge value in the middle is elided, so it neither shows nor
    # moves the formatter to sci mode: the formatter sees only the summarized data.
    t = torch.arange(1600, dtype=torch.float32) * 0.25 - 200
    t[20 * 40 + 20] = 1e9
    yield "summarizedMatrix", t.reshape(40, 40)
    # 2000 values, summarized: 0, 0.5, 1, 998.5, 999, 999.5 -> ratio 1999, sci mode, and the
    # " ..." counts as an element when wrapping (6 per line).
    yield "summarizedVector", torch.arange(2000, dtype=torch.float32) * 0.5
    # 3-D summarized, every dimension elided: the "..." slice gets blank lines around it.
    yield "summarizedRank3", (torch.arange(1029, dtype=torch.float32) - 500).reshape(7, 7, 21)
    # Rank 0.
    yield "scalar", torch.tensor(3.5)
    yield "scalarInteger", torch.tensor(3.0)
    yield "scalarNegativeSci", f32("-0.00002")[0]
    yield "scalarInt32", torch.tensor(7, dtype=torch.int32)
    # Empty.
    yield "empty", torch.zeros(0)
    yield "emptyMatrix", torch.zeros(2, 0)
    # int32: plain integers right-aligned to the widest.
    yield "int32Vector", i32(-5, 12, 0, 1234, -1)
    yield "int32Matrix", (torch.arange(12, dtype=torch.int32) * 7 - 40).reshape(3, 4)
    yield "int32Wrapped", torch.arange(40, dtype=torch.int32) * 3 - 60
    yield "int32Summarized", (torch.arange(1200, dtype=torch.int32) - 600).reshape(3, 400)
    # Non-contiguous: the transpose of a 3x4 matrix stored from offset 2 of a 14-element buffer
    # holding i * 0.25 - 1.
    base = torch.arange(14, dtype=torch.float32) * 0.25 - 1
    yield "transposedView", torch.as_strided(base, (4, 3), (1, 4), 2)


def text_block(s, indent=8):
    """s as the body of a Java text block that closes on its last line."""
    assert '"""' not in s and "\\" not in s
    lines = s.split("\n")
    assert all(line == line.rstrip() for line in lines), "trailing spaces would be stripped"
    pad = " " * indent
    return '"""\n' + "\n".join(pad + line if line else "" for line in lines) + '"""'


def main():
    for name, t in cases():
        s = tensor_str._tensor_str(t, INDENT)
        print(name)
        print(text_block(s))
        print()


if __name__ == "__main__":
    main()
