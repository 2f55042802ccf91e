"""Copying what a generation produced to other systems (its videos into object storage)."""
