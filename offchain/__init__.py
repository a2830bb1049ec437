"""Off-chain half of verifiable on-chain AI: integer engine, commitments, dispute players, ZK, nodes."""

__version__ = "0.1.0"
