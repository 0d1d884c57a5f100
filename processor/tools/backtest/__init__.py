"""Backtests: a history replayed through the processing code and its event clock, in this
process (no broker, no Redis), and what the processor predicted set against what happened."""
