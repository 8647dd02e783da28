"""The run engine under both HTTP APIs: runs as database records, leases, workers, background runs, events.

`engine.Engine` is the interface (submit, execute, get, list, join, cancel, delete, stream); `store` holds
the SQL of both backends; `schema` the tables (migration 3).
"""
