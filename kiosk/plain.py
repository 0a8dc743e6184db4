"""The one way text gets onto a kiosk screen: as the text it is, never as markup.

Much of what the kiosk shows comes from outside it: the site's name and the
survey URL from the site file; questions, stage names and reason labels from
the plugins' cycle templates; alert summaries, response paths and staff names
from the rules and the alert book; cycle and moment ids from the data folder.
Textual reads a ``str`` given to a ``Static``, ``Button``, ``Label``, ``Option``,
tab title or ``DataTable`` cell as markup: a staff name like ``[/x]`` raises
(a traceback over the customer's screen), ``[link=...]`` makes a link and
``[red]`` recolours. A control character (an escape sequence, a bidi override)
must not reach the terminal either, where it could move the cursor, clear the
screen or reorder what follows.

So every text a kiosk widget shows is made here: control characters become
their visible escapes (core's :func:`~servicecycle.core.printable`), and the
result is a :class:`~textual.content.Content` (or, for ``DataTable`` cells, a
:class:`rich.text.Text`), which Textual shows as it is, whatever its brackets.
Only the kiosk's own string literals may reach a widget without passing through
here; ``tests/test_kiosk_text.py`` scans the package to keep it that way.
"""

from __future__ import annotations

from rich.text import Text
from textual.content import Content

from servicecycle.core import printable


def plain(text: object, *, newlines: bool = False) -> Content:
    """``text`` shown literally: no markup, control characters as escapes.

    ``newlines`` keeps line breaks (for the kiosk's own drawings); outside text
    is shown on one logical line, its newlines escaped like any control character.
    """
    return Content(printable(text, newlines=newlines))


def plain_cell(text: object) -> Text:
    """``text`` as a ``DataTable`` cell or column label (the table takes Rich text)."""
    return Text(printable(text), end="")
