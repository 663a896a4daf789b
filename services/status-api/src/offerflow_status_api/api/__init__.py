"""The publisher-facing HTTP API (wire-compatible with api-version 2017-10-31)."""
