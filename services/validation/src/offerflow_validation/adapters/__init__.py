"""The outside world: where the offer's artifacts (logos, screenshots) are read from."""
