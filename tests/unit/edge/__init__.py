"""Unit tests of the edge's pure parts."""
