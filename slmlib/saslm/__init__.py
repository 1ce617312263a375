"""SASLM (P2, notebook 05): intent-aware speech generation; the dialogue world comes first."""
