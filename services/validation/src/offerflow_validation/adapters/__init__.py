"""The outside world. Validation needs none yet: it decides from the offer snapshot alone."""
