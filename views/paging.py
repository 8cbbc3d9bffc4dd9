"""One page of a list, and the pager that moves through it, for lists of any length.

A list counts its rows only as far as its pager reaches (`count_limit`: the pages it links to,
at most `LIST_COUNT_LIMIT`): an exact count would read every row in scope (all of a corporation's
debts, and for a contains-search every one of them matched) on every page, just to print a number. Beyond that the list says "more than 100", pages on from the start
or, with "last", from the end (`last_<View>=n`: the n-th page counted from the end, read in
reverse order through the same index), and "count all" (`count_<View>=all`) gives the exact
number when someone asks for it.
"""
from dataclasses import dataclass, field

from flask import current_app, request, url_for
from flask_babel import format_number
from flask_babel import lazy_gettext as _l

# The pager shows this many numbered pages either side of the current one.
WINDOW = 3


def count_limit(page, from_end, page_size) -> int:
    """How far a list page counts: through the last page its pager links to, at most LIST_COUNT_LIMIT."""
    pages_on = (from_end or page or 0) + 1 + WINDOW
    return min(current_app.config["LIST_COUNT_LIMIT"], pages_on * (page_size or 0)) or current_app.config["LIST_COUNT_LIMIT"]


@dataclass
class ListPage:
    """The rows of one page and what is known of the list around it."""

    rows: list
    count: int  # the exact count, or (when not `exact`) the limit it was counted up to
    exact: bool
    page: int | None  # from the start, 0-based; None when read from the end
    from_end: int | None  # 1: the last page; None when read from the start
    page_size: int
    has_more: bool = False  # rows beyond this page, towards the end
    extra: dict = field(default_factory=dict)


def page_arguments(view_name: str):
    """(page from the start, page from the end, exact count asked for) from the request."""
    page = request.args.get(f"page_{view_name}", type=int)
    from_end = request.args.get(f"last_{view_name}", type=int)
    exact = request.args.get(f"count_{view_name}") == "all"
    return page, (from_end if from_end and from_end > 0 else None), exact


def _url(view_name, **changes):
    args = {**(request.view_args or {}), **request.args.to_dict()}
    for name in ("page", "last", "count"):
        args.pop(f"{name}_{view_name}", None)
    if request.args.get(f"count_{view_name}") == "all":
        args[f"count_{view_name}"] = "all"
    args.update({f"{name}_{view_name}": value for name, value in changes.items() if value is not None})
    return url_for(request.endpoint, **args)


@dataclass
class PagerLink:
    label: str
    url: str | None  # None: shown, not a link (the current page, or no page there)
    title: str = ""
    current: bool = False


class Pager:
    """The links and the "1–25 of …" line of one list page."""

    def __init__(self, listing: ListPage, view_name: str):
        self.listing = listing
        self.view_name = view_name

    @property
    def pages(self) -> int | None:
        """Number of pages, when the count is exact."""
        if not self.listing.exact:
            return None
        return max(1, -(-self.listing.count // self.listing.page_size))

    def links(self) -> list:
        listing, view = self.listing, self.view_name
        first = PagerLink("«", _url(view), str(_l("First page")))
        if listing.from_end is not None:
            # Read from the end: earlier pages are further from the end, later ones nearer.
            previous = PagerLink("‹", _url(view, last=listing.from_end + 1), str(_l("Previous page")))
            later = PagerLink("›", _url(view, last=listing.from_end - 1) if listing.from_end > 1 else None,
                              str(_l("Next page")))
            last = PagerLink("»", _url(view, last=1) if listing.from_end > 1 else None, str(_l("Last page")))
            return [first, previous, PagerLink("…", None, current=True), later, last]
        page = listing.page or 0
        if self.pages is not None:
            last_page = self.pages - 1
            has_next = page < last_page
            last = PagerLink("»", _url(view, page=last_page) if page < last_page else None, str(_l("Last page")))
            known = last_page
        else:
            has_next = listing.has_more
            last = PagerLink("»", _url(view, last=1), str(_l("Last page")))
            known = max(page, -(-(listing.count + 1) // listing.page_size) - 1)
        start = max(0, min(page - WINDOW, known - 2 * WINDOW))
        numbered = [
            PagerLink(format_number(p + 1), None if p == page else _url(view, page=p), current=p == page)
            for p in range(start, min(known, start + 2 * WINDOW) + 1)
        ]
        return [
            PagerLink("«", _url(view) if page > 0 else None, str(_l("First page"))),
            PagerLink("‹", _url(view, page=page - 1) if page > 0 else None, str(_l("Previous page"))),
            *numbered,
            PagerLink("›", _url(view, page=page + 1) if has_next else None, str(_l("Next page"))),
            last,
        ]

    def total(self) -> str:
        """"63", or "more than 1,000" when the list was not counted to the end."""
        total = format_number(self.listing.count)
        return total if self.listing.exact else str(_l("more than %(total)s", total=total))

    def shown(self) -> str:
        """Which rows this page holds: "26–50", "the last 25", "25, page 2 from the end"."""
        listing = self.listing
        shown = len(listing.rows)
        if listing.from_end is not None:
            if listing.from_end == 1:
                return str(_l("the last %(shown)s", shown=format_number(shown)))
            return str(_l("%(shown)s, page %(page)s from the end", shown=format_number(shown),
                          page=format_number(listing.from_end)))
        if not shown:
            return ""
        start = (listing.page or 0) * listing.page_size
        return f"{format_number(start + 1)}–{format_number(start + shown)}"

    def count_all_url(self) -> str | None:
        """The link that asks for the exact count, when the list did not count every row."""
        if self.listing.exact:
            return None
        page = self.listing.page if self.listing.from_end is None else None
        args = {"page": page or None, "last": self.listing.from_end}
        return _url(self.view_name, **args, count="all")
