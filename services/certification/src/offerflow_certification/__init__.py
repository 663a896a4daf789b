"""Certification: the VM images are tested before anything is replicated."""
