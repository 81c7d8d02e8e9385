"""The ``tenantctl`` console script: the CLI, with the garbage collector held off while the
command's modules load.

Start-up is mostly imports (about 0.35 s for ``migrate up``, a seventh of a rollout over
1,000 tenants). They create hundreds of thousands of objects and next to no garbage, and the
collector would walk them again and again: holding it off saves about a tenth of start-up
(measured with ``gc.disable()`` around the imports of ``toolkit.cli.migrate``). What the
imports created is then frozen (``gc.freeze``), so that the command's own collections skip
it, and the collector runs as usual for the command itself.

Mako, which Alembic imports for its revision templates, loads Pygments at import time so
that its HTML error pages can highlight code; a command line never renders one, and that
import costs 20-30 ms of start-up. An entry of None in ``sys.modules`` makes the optional
import fail, and Mako falls back to plain escaping, as it does without Pygments.
"""

from __future__ import annotations

import gc
import sys
from typing import NoReturn

_MAKO_HIGHLIGHTING = "mako.ext.pygmentplugin"


def main() -> NoReturn:
    """Load the command line's command, then run it."""
    load_command(sys.argv[1:])
    from toolkit.cli import app

    app.run()


def load_command(argv: list[str]) -> None:
    """Import the modules of the command ``argv`` names, with the collector off and Mako's
    highlighting blocked, then freeze what they created."""
    gc.disable()
    sys.modules.setdefault(_MAKO_HIGHLIGHTING, None)  # type: ignore[arg-type]
    from toolkit.cli import app  # imported here, with the collector off

    app.load(argv)
    gc.freeze()
    gc.enable()
