"""What a run leaves behind, within memory bounds: the plot history, per-layer statistics and the timeline of
run states to rewind to."""
