"""Stage 0, the data model: usage records and rejections, named cells, the mergeable roll-up.

Imports nothing else of the cost engine but its errors."""
