"""What several stages share: settings, paths, the warehouse, hashing, data versions, partitions,
the GX runner, the one way a check or gate result is rendered, and dbt's project and runner."""
