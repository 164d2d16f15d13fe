"""Scripts that measure the filter: speed figures and the adaptation scenario."""
