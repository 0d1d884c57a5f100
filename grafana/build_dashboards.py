"""Grafana dashboards as code: writes grafana/dashboards/*.json.

Kept as the command documented everywhere (`python grafana/build_dashboards.py [--check]`);
the boards live in the `grafana.boards` package next to it.
"""

import sys
from pathlib import Path

# Run as a script, only grafana/ is on the path: add the checkout for grafana.boards and
# processor (the family declarations), so the command works without an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grafana.boards.build import main

if __name__ == "__main__":
    sys.exit(main())
