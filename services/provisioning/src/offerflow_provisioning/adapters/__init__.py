"""The outside world: where disks are read from (DiskSource) and where replicas go (RegionStore)."""
