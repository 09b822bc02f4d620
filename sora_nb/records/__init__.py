"""Records: what a generation asks and what it made. Data only; no relay
parsing.
"""
