"""Audio preparation, speech recognition per channel and speaker turns for recorded calls."""
