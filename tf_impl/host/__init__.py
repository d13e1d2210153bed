"""Facts about the machine the job runs on: its memory (host and GPU) and CPU features."""
