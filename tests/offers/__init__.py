"""Offer documents for tests: a complete offer that passes every rule, and deliberately broken ones."""
