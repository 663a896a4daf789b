"""The outside world of the status-api: PostgreSQL (read model, drafts) and Kafka (accepted commands)."""
