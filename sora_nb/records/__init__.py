"""What a generation asks and what it made: data only, no relay parsing."""
