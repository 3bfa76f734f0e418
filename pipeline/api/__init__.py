"""The HTTP API: feeds read, events published, marks set, over the same Manager as everything else."""
