"""Provisioning: the third publishing step, replicating the certified disks to every region."""
