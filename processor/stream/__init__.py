"""The stream core: the Faust worker, the pipeline of a batch and the state it keeps.

`worker` (Faust app, the state, the thin agent, timers, /metrics and /ready, partition
takeover) hands batches to `pipeline`, which orchestrates `clock`, `conversations` (states
and their indexes: `backlog`, `queue_history`), `aggregates` (totals and window buckets),
`csat_models`, `seen` (ids counted within
the lateness), `tables`, `dedup` (Redis) and the dead-letter sink (`deadletters`), and ends
each batch with `checkpoint`; `policy_store` keeps SLA policies in Redis, `reachability`
tells Redis outages, `topics` the Kafka layout, `interfaces` the protocols between them;
`forecasting` reads the breach forecast of the owned partitions at scrape time.

May import: `processor.domain`, `processor.predict`, `processor.metrics`, `processor.state`,
`processor.settings`, `processor.errors`. Nothing of ingest or tools.
"""
