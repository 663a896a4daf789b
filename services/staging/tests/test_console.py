from __future__ import annotations

from offerflow_staging.console import MAX_LINE_CHARS, Console, clean


def test_lines_are_split_across_chunks_and_cleaned() -> None:
    c = Console()
    assert c.feed(b"\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2)\r\nBooting from Hard") == [
        "SeaBIOS (version 1.16.2)"]
    assert c.feed(b" Disk...\r\n\x07bell\x00 and nul\r\n") == ["Booting from Hard Disk...", "bell and nul"]
    assert c.feed(b"staging login: ") == []
    assert c.close() == ["staging login:"]
    assert c.text().splitlines() == ["SeaBIOS (version 1.16.2)", "Booting from Hard Disk...", "bell and nul",
                                     "staging login:"]
    assert not c.truncated


def test_clean_strips_escapes_and_controls() -> None:
    assert clean("[\x1b[0;32m  OK  \x1b[0m] Reached\x7f\t end  ") == "[  OK  ] Reached\t end"
    assert clean("\x1b]0;title\x07\x1b(Bx") == "x"


def test_a_flood_keeps_head_and_tail_within_the_bound() -> None:
    c = Console(max_chars=2000, tail_lines=3)
    for i in range(10_000):
        c.feed(f"line {i} {'x' * 40}\n".encode())
    text = c.text()
    assert len(text) <= 2000
    assert c.truncated
    assert text.startswith("line 0 ")
    assert text.rstrip().endswith(f"line 9999 {'x' * 40}")
    assert "characters of console output left out" in text
    assert [line.split()[1] for line in c.tail_lines()] == ["9997", "9998", "9999"]


def test_a_line_without_end_is_cut_into_bounded_pieces() -> None:
    c = Console(max_chars=10_000)
    lines = c.feed(b"A" * (MAX_LINE_CHARS * 3 + 5))
    assert [len(x) for x in lines] == [MAX_LINE_CHARS] * 3
    assert len(c.text()) <= 10_000
