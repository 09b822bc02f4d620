"""Configuration, auth, retries, the limiter and HTTP, for one dialect."""
