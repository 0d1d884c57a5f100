"""The command line and operator tools: CLI, local stack, rules, dead letters, SLA edits.

`cli` (the `socialcare` command), `stack` and `local_services` (the whole product on one
machine; shared with the benchmarks and the integration tests), `alert_rules` (Prometheus
rules from prometheus/slo.yaml), `deadletters` (list and republish), `sla_commands`.

May import anything of the project; nothing of the project imports tools.
"""
