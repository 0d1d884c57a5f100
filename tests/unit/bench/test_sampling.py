"""The benchmark's profile summary: samples per function, on its own and with its callees."""

from __future__ import annotations

from pathlib import Path

from benchmarks.sampling import Profile


def test_collapsed_stacks_give_self_and_total_samples(tmp_path: Path) -> None:
    path = tmp_path / "profile.txt"
    path.write_text(
        "main (w.py:1);handle (p.py:10);decode (e.py:5) 30\n"
        "main (w.py:1);handle (p.py:10) 10\n"
        "main (w.py:1);select (selectors.py:468) 60\n"
        "main (w.py:1);recurse (r.py:2);recurse (r.py:2) 5\n"
        "garbage line\n"
    )
    profile = Profile.read(path)
    assert profile.samples == 105
    assert profile.own == {"decode (e.py:5)": 30, "handle (p.py:10)": 10,
                           "select (selectors.py:468)": 60, "recurse (r.py:2)": 5}  # fmt: skip
    # A frame met twice in one stack (recursion) counts that stack once.
    assert profile.total["recurse (r.py:2)"] == 5
    assert profile.total["handle (p.py:10)"] == 40 and profile.total["main (w.py:1)"] == 105


def test_library_paths_are_cut_to_the_package() -> None:
    from benchmarks.sampling import _short

    frame = "getmany (/x/.venv/lib/python3.11/site-packages/aiokafka/consumer/consumer.py:1200)"
    assert _short(frame) == "getmany (aiokafka/consumer/consumer.py:1200)"
    assert _short("run (/usr/lib/python3.11/asyncio/runners.py:118)") == (
        "run (asyncio/runners.py:118)"
    )
