"""Moving a person's data between installs: export to and import from documented JSON lines
(docs/export-format.md), and backups of the whole database."""
