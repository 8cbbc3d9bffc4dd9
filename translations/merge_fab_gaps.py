"""Copy the Flask-AppBuilder translations of fab_gaps_nl.po into nl/LC_MESSAGES/messages.po.

FAB's own strings are not in our messages.pot, so `pybabel update` marks them obsolete (or
drops them with --ignore-obsolete) and they would stop being compiled. Run this script after
every `pybabel update`, before `pybabel compile`:

    .venv/bin/python translations/merge_fab_gaps.py           # merge, then write messages.po
    .venv/bin/python translations/merge_fab_gaps.py --check   # exit 1 if a merge is needed

Rules, per entry of fab_gaps_nl.po:
- not in messages.po, or only obsolete there: added at the end, with the marker comment;
- in messages.po with the marker: its translation follows fab_gaps_nl.po;
- in messages.po as one of our own strings (no marker): a translated, non-fuzzy msgstr is
  kept (our wording wins); an empty or fuzzy one is filled from fab_gaps_nl.po.
Entries with the marker that fab_gaps_nl.po no longer has, and no source location, are removed.
"""
import argparse
import io
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
GAPS = HERE / "fab_gaps_nl.po"
TARGET = HERE / "nl" / "LC_MESSAGES" / "messages.po"
MARKER = "Flask-AppBuilder string: maintained in translations/fab_gaps_nl.po"


def _read(path):
    with open(path, "rb") as f:
        return read_po(f, locale="nl")


def merge(gaps, catalog):
    """Apply the rules above to `catalog` in place; returns a list of what changed."""
    changes = []
    wanted = {m.id: m for m in gaps if m.id and m.string and not m.fuzzy}
    for msgid, gap in wanted.items():
        if msgid in catalog.obsolete:
            del catalog.obsolete[msgid]
        current = catalog.get(msgid)
        if current is None:
            catalog.add(msgid, gap.string, auto_comments=[MARKER])
            changes.append(f"added: {msgid!r}")
        elif MARKER in current.auto_comments:
            if current.string != gap.string or current.fuzzy:
                current.string = gap.string
                current.flags.discard("fuzzy")
                changes.append(f"updated: {msgid!r}")
        elif not current.string or current.fuzzy:
            current.string = gap.string
            current.flags.discard("fuzzy")
            current.auto_comments = [*current.auto_comments, MARKER]
            changes.append(f"filled: {msgid!r}")
    for message in list(catalog):
        if (message.id and message.id not in wanted and MARKER in message.auto_comments
                and not message.locations):
            catalog.delete(message.id)
            changes.append(f"removed: {message.id!r}")
    return changes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if a merge is needed")
    args = parser.parse_args(argv)

    catalog = _read(TARGET)
    changes = merge(_read(GAPS), catalog)
    if args.check:
        for change in changes:
            print(change)
        print(f"{len(changes)} change(s) needed in {TARGET.relative_to(HERE.parent)}")
        _warn_unfinished(catalog)
        return 1 if changes else 0
    if changes:
        buffer = io.BytesIO()
        write_po(buffer, catalog)
        TARGET.write_bytes(buffer.getvalue())
    print(f"{len(changes)} change(s) merged into {TARGET.relative_to(HERE.parent)}")
    _warn_unfinished(catalog)
    return 0


def _warn_unfinished(catalog):
    """Entries `pybabel compile` would leave out: empty or fuzzy msgstr."""
    for message in catalog:
        if message.id and (not message.string or message.fuzzy):
            state = "fuzzy" if message.fuzzy else "untranslated"
            print(f"warning: {state}: {message.id!r}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
