"""Glass analyze stage: turns capture files into durable memories."""
