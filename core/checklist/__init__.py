"""The decision workshop: the seeds' instruments, how they are scored, and
the sessions in which a room answers them together."""
