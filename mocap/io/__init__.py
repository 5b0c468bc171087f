"""File input and output of the pipeline's stages, kept apart from their pure computations."""
