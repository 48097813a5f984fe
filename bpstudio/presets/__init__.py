"""Example networks shipped with bpstudio, each a network file with its data source."""
