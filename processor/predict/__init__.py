"""Looking ahead: the CSAT a conversation nobody surveyed would likely have given, and the
first-response breaches of the next minutes.

`csat_features` turns a resolved conversation into the numbers the model reads (pure),
`csat_model` is the model (river's online Bayesian linear regression, per brand with a pooled
fallback, stored as plain numbers), `csat_scoring` says what a change of a conversation means
to it: a prediction at each resolution, a lesson and a calibration check at each survey.
`breach_queue` is the breach forecast's arithmetic (the survival of a queue's waits, Erlang
C), `breach_forecast` a queue's forecast from its counts.
"""
