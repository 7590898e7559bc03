"""scms-ee: a command-line end entity (device simulator) that talks to the SCMS only over its public API."""
