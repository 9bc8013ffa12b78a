"""``acorn demo``: the whole system on embedded defaults, supervised from one process."""
