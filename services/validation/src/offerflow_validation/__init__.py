"""Validate Pre-Requisites: the first publishing step."""
