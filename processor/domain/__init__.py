"""The care domain: the event contract, conversations and what they imply, SLA policies.

Pure code, no I/O: `events` (the v1 contract as typed models; bad input as a `Rejection`
value), `conversation` (a conversation's timeline and the metric contributions it stands
for), `sla` and `business_hours` (targets and opening-hours clocks), `quality` and
`sentiment`, `admission` (time bounds and order checks), `deadletters` (the envelope).

May import: `processor.settings`, `processor.errors` and the metric definitions
(`processor.metrics.families`, `.series`, `.windows`). Nothing of stream, ingest or tools.
"""
