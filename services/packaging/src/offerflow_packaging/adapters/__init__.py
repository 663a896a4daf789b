"""The outside world: where pages are kept (PageStore) and where test leads would go (LeadDestination)."""
