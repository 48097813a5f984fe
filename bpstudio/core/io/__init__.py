"""Files in and out: network files (versioned JSON), session files, the shipped presets, atomic writes, and the
PyTorch bridge (an exported training script and state_dict import)."""
