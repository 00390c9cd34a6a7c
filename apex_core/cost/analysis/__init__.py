"""Stage 2b: price a roll-up, break it down, recommend changes, render the report."""
