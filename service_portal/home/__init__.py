"""The front page and the health check."""
