"""What is exported and how: families, series keys, windows, collectors, health instruments.

`families` declares every family once; `series` is the typed key from the domain to the
exposition and owns its stored forms; `windows` is event-time window arithmetic. These
three import nothing of the project but each other and `processor.errors`. `collectors`
builds the business families at scrape time through the read-only `BusinessState`;
`health` holds a process's own instruments; they may also import `processor.domain` and
`processor.settings`. Nothing here imports stream, ingest or tools.
"""
