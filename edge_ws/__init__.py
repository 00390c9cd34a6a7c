"""The WebSocket edge service (``python -m edge_ws``): see docs/EDGE.md."""
