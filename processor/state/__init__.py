"""Durable state: tables in memory and on disk, a changelog on Kafka, a unit per partition.

The stream core writes plain mappings; this package remembers which keys a batch changed in
which partition (`store`), writes them as one unit per partition with the partition's
progress and dead letters (`writer`: a Kafka transaction, or a framed batch on brokers
without transactions), then to the worker's local RocksDB copy with the offset they reach
(`local`). It rebuilds a partition from that copy and the changelog's tail (`recovery`) and
keeps copies of the partitions other workers own (`standby`). It knows nothing of
conversations or metrics: imports only `processor.errors`.
"""
