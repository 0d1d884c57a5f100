"""The stream core: the Faust worker, the pipeline of a batch and the state it keeps.

`worker` (Faust app, tables, the thin agent, timers, /metrics and /ready) hands batches to
`pipeline`, which orchestrates `clock`, `conversations` (states and their indexes),
`aggregates` (totals and window buckets), `tables` (changelog flush), `dedup` (Redis) and
the dead-letter sink (`deadletters`); `policy_store` keeps SLA policies in Redis, `topics`
the Kafka layout, `interfaces` the protocols between them.

May import: `processor.domain`, `processor.metrics`, `processor.settings`,
`processor.errors`. Nothing of ingest or tools.
"""
