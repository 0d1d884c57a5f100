"""Durable state: tables in memory, their changelog on Kafka, a transaction per partition.

The stream core writes plain mappings; this package remembers which keys a batch changed in
which partition (`store`), writes them as one unit per partition with the partition's
progress and dead letters (`writer`: a Kafka transaction, or a framed batch on brokers
without transactions), and rebuilds a partition's tables from its changelog (`recovery`).
It knows nothing of conversations or metrics: imports only `processor.errors`.
"""
