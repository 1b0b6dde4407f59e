"""Front ends: each joins one protocol's sessions to the carrier, without I/O."""
