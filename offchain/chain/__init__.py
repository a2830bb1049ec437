"""Chain-facing helpers shared by the ape scripts, the demo and the tests: deployments and their records."""
