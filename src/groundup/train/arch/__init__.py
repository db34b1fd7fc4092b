"""The modern-architecture comparison of curriculum 3.4 (`groundup arch compare`): training runs on one
corpus (`compare`) and the complexity table measured (`probes`)."""
