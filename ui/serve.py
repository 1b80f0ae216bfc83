"""`python -m ui.serve [streamlit options]`: the dashboard's server (`streamlit run app.py` with
the same options), warmed from its start (ui.warmup) so the first visit does not pay for imports,
the connection and the Overview's queries."""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"


def main() -> None:
    """Start the warm-up thread, then Streamlit's own command line (which exits the process)."""
    from streamlit.web import cli

    from ui import warmup

    warmup.start()
    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    cli.main()


if __name__ == "__main__":
    main()
