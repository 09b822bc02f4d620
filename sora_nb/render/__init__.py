"""Render: a Video or a Session as a mime bundle that shows with no kernel."""
