"""The Dutch catalogue is complete: no empty or fuzzy entry, and every string the code marks is in it.

`pybabel compile` silently leaves out empty and fuzzy entries, so such a string would show in English.
.ci/run runs this file first, on its own, so a gap fails CI before the long suite starts.
"""
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).parent.parent
CATALOGUE = ROOT / "translations/nl/LC_MESSAGES/messages.po"
KEYWORDS = {"_": None, "_l": None, "lazy_gettext": None, "gettext": None, "ngettext": (1, 2),
            "lazy_ngettext": (1, 2)}


def _catalogue():
    with open(CATALOGUE, "rb") as po:
        return read_po(po)


def _entries(catalogue):
    return [message for message in catalogue if message.id]


def _where(message) -> str:
    return f"line {message.lineno}: {message.id!r}"


def _unfinished(message) -> bool:
    strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
    return message.fuzzy or not all(strings)


def test_no_dutch_entry_is_empty_or_fuzzy():
    unfinished = [_where(message) + (" (fuzzy)" if message.fuzzy else " (empty)")
                  for message in _entries(_catalogue()) if _unfinished(message)]
    assert not unfinished, (f"{CATALOGUE.relative_to(ROOT)} has {len(unfinished)} unfinished Dutch "
                            "entries (they would show in English):\n  " + "\n  ".join(unfinished))


def test_every_marked_string_is_in_the_dutch_catalogue():
    with open(ROOT / "babel.cfg") as config:
        method_map, options_map = parse_mapping_cfg(config)
    known = {message.id if isinstance(message.id, str) else message.id[0] for message in _entries(_catalogue())}
    missing = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT, method_map, options_map, keywords=KEYWORDS):
        msgid = message if isinstance(message, str) else message[0]
        if msgid and msgid not in known:
            missing.setdefault(msgid, f"{filename}:{lineno}")
    assert not missing, (f"{len(missing)} strings marked for translation have no entry in "
                         f"{CATALOGUE.relative_to(ROOT)}:\n  "
                         + "\n  ".join(f"{where}: {msgid!r}" for msgid, where in sorted(missing.items(), key=lambda m: m[1])))
