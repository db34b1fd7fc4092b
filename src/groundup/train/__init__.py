"""Training: config and presets, the loop, checkpoints with exact resume, schedules, data parallel."""
