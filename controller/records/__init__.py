"""What the table remembers and shows afterwards: the trace, the session history, the plots."""
