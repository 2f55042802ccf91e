"""What a delivered video really is (duration, size, codec, sound), read from the file, and
whether it is what was asked for.  PyAV (the ``[media]`` extra) is imported only when used."""
