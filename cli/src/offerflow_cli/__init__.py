"""The `offerflow` command line: a client of the public API, plus the local certifier."""
