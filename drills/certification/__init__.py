"""On-call certification: a trainee recovers an injected fault by hand; the harness grades it."""
