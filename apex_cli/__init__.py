"""apex_cli."""
