"""The showcase app: what a newcomer sees first (``make run``)."""
