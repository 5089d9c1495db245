"""specc's command line (click). Placeholder while the loader lands; see specc.cli_* modules."""
