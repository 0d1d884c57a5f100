"""Looking ahead: the CSAT a conversation nobody surveyed would likely have given.

`csat_features` turns a resolved conversation into the numbers the model reads (pure),
`csat_model` is the model (river's online Bayesian linear regression, per brand with a pooled
fallback, stored as plain numbers), `csat_scoring` says what a change of a conversation means
to it: a prediction at each resolution, a lesson and a calibration check at each survey.
"""
