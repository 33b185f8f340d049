"""Readers and writers for the splat file formats (.ply, .sog), numpy only."""
