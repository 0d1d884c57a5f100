"""Ways in: the producer for files, the webhook, live synthetic traffic, importers.

Everything that puts v1 events onto the input topics, keyed by conversation: `producer`
(files and lists), `webhook` (HTTP, authenticated, validated), `live` and `synthetic` (the
generator), `twitter_support` (the public Twitter support data set).

May import: `processor.domain`, `processor.metrics`, `processor.settings`,
`processor.errors` and `processor.stream.topics` (the Kafka layout). Not the stream core.
"""
