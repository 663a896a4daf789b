"""Notifier: one mail per event and recipient about a publish run, plus a development mail sink."""
