"""The wire: bytes to SSE to chunks to typed events. No I/O, no relay kinds."""
