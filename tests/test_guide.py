"""The illustrated guide (docs/huong-dan/) stays true to the product: every button a step names
(written **«Tên nút»**) is a text the Trợ lý shows, every command it names is one the Trợ lý
tells people about, and every picture it shows is a file `make guide` made. Fast, no browser:
the texts are read from the Vietnamese catalogs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_glossary import _pattern, forbidden, vi_texts

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "huong-dan"
SCREENSHOTS = ROOT / "scripts" / "screenshots"
PAGES = (
    "README.md",
    "bat-dau.md",
    "bi-thu-chi-bo.md",
    "dang-vien.md",
    "to-cong-tac.md",
    "can-bo-quan-tri-xa.md",
    "can-bo-quan-tri-cap-tren.md",
)
BUTTON = re.compile(r"\*\*«(.+?)»\*\*")
PICTURE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
COMMAND = re.compile(r"(?<![\w/])/([a-z_]+)\b")
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
# A bracketed aside made of a placeholder: "(gợi ý {n})", "({n})".
ASIDE = re.compile(r"\s*\([^()]*\{[^{}]*\}[^()]*\)")
TAG = re.compile(r"<[^>]+>")


def shown_texts() -> set[str]:
    """What a person can read on a button or a line: each catalog text without its markup,
    and the pieces left between its placeholders ("✅ Giao cho {name}" → "✅ Giao cho"), or
    without a bracketed aside ("↔️ Dời buổi (gợi ý {n})" → "↔️ Dời buổi")."""
    out: set[str] = set()
    for _key, text in vi_texts():
        for line in TAG.sub("", text).splitlines():
            out.add(PLACEHOLDER.sub("", line).strip())
            out.add(PLACEHOLDER.sub("", ASIDE.sub("", line)).strip())
            out.update(part.strip(" ()") for part in PLACEHOLDER.split(line))
    out.discard("")
    return out


def guide_text(name: str) -> str:
    return (GUIDE / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", PAGES)
def test_guide_page_names_only_buttons_the_bot_shows(name: str) -> None:
    shown = shown_texts()
    named = BUTTON.findall(guide_text(name))
    missing = [label for label in named if label.strip() not in shown]
    assert not missing, f"{name} names buttons no catalog text shows: {missing}"


@pytest.mark.parametrize("name", PAGES)
def test_guide_page_names_only_commands_the_bot_explains(name: str) -> None:
    said = {m for _key, text in vi_texts() for m in COMMAND.findall(TAG.sub("", text))}
    named = set(COMMAND.findall(guide_text(name)))
    assert not named - said, f"{name} names commands no catalog text mentions: {named - said}"


def made_by_make_guide() -> set[str]:
    """The pictures scripts/screenshots takes: each `snap("name")`, without `.png`."""
    return set(re.findall(r'snap\("([\w-]+)"\)', SCREENSHOTS.read_text(encoding="utf-8")))


@pytest.mark.parametrize("name", PAGES)
def test_guide_page_pictures_exist_and_are_made_by_make_guide(name: str) -> None:
    made = made_by_make_guide()
    for ref in PICTURE.findall(guide_text(name)):
        assert (GUIDE / ref).is_file(), f"{name}: picture {ref} is missing"
        assert Path(ref).stem in made, f"{name}: {ref} is not made by scripts/screenshots"


@pytest.mark.parametrize("name", PAGES)
def test_guide_page_speaks_in_the_house_voice(name: str) -> None:
    text = COMMAND.sub("", guide_text(name))
    found = [w for w in forbidden() if _pattern(w).search(text)]
    assert not found, f"{name} uses words the glossary rules out: {found}"


def test_every_picture_in_the_guide_folder_is_made_by_make_guide_and_shown() -> None:
    # No picture left over from an older script (it would show a screen the bot no longer
    # has), none taken for nothing.
    made = made_by_make_guide()
    kept = {p.stem for p in (GUIDE / "img").glob("*.png")}
    shown = {Path(ref).stem for name in PAGES for ref in PICTURE.findall(guide_text(name))}
    assert kept == made, (
        f"not made by scripts/screenshots: {sorted(kept - made)}; "
        f"made but not in docs/huong-dan/img (run make guide): {sorted(made - kept)}"
    )
    assert made <= shown, f"taken by scripts/screenshots, shown by no page: {sorted(made - shown)}"


def test_guide_has_a_page_per_role_and_each_page_shows_a_picture() -> None:
    for name in PAGES[1:]:
        assert PICTURE.search(guide_text(name)), f"{name} shows no picture of the screen"
    index = guide_text("README.md")
    for name in PAGES[1:]:
        assert f"({name})" in index, f"the index does not link {name}"


def test_button_check_catches_a_button_the_bot_no_longer_shows() -> None:
    shown = shown_texts()
    assert "✅ Có mặt" in shown
    assert "✅ Giao cho" in shown
    assert "↔️ Đề nghị dời buổi sinh hoạt" in shown
    assert "✅ Đã có mặt rồi" not in shown
