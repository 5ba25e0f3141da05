"""Email notifications: an outbox written with the change that causes it, and a worker that
delivers it over SMTP (CONTRACT section 11)."""
