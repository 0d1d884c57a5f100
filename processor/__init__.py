"""Live social customer-care metrics processor (Faust agents, Kafka, Redis, Prometheus)."""

__version__ = "0.1.0"
