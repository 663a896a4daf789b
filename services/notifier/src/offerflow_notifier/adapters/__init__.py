"""The outside world: an SMTP server to send through and a ledger of the mails already sent."""
