"""The parts catalog, supersession, fitment, and each shop's stock."""
