"""Offerflow staging: boots one replica per plan under QEMU and checks each boot milestone."""
