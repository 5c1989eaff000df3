"""Run configuration: YAML -> validated, frozen records with presets and overrides resolved."""
