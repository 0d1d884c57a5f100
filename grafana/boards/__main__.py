"""`python -m grafana.boards` from the repository root: same as grafana/build_dashboards.py."""

import sys

from grafana.boards.build import main

sys.exit(main())
