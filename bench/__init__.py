"""The benchmark: batchdeploy side by side with the tools users would pick instead (see bench/README.md)."""
