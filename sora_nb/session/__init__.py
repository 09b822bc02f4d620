"""Sessions and batches: many generations on one client, recorded as turns."""
