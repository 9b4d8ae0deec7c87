"""In-process inference engines (see base.Engine)."""
