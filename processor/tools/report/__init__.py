"""KPI reports for the people who set the goals: a period against a baseline period, read
from Prometheus (the recording rules' expressions over the whole period), rendered as one
self-contained HTML file (charts inline as SVG) or a PDF."""
