"""Peers and drivers the benchmark runs as separate processes."""
