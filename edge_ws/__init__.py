"""edge_ws."""
