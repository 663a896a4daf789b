"""Inspection of VM disk images submitted for certification."""
