"""The package inventory as a report attachment: the image's package list, bounded for the topic."""

from __future__ import annotations

from offerflow_certification.image.packages import Inventory
from offerflow_contract.events import InstalledPackage, PackageInventory
from offerflow_contract.events.certification import INVENTORY_MAX_BYTES


def full(inventory: Inventory) -> PackageInventory:
    """Every package, sorted by name (the local `offerflow certify --inventory` writes this one)."""
    rows = [InstalledPackage(name=p.name, version=p.version, source=p.source, architecture=p.architecture)
            for p in sorted(inventory.packages, key=lambda p: (p.name, p.architecture, p.version))]
    return PackageInventory(format=inventory.format, database=inventory.database, total=len(rows), packages=rows)


def bounded(inventory: Inventory, max_bytes: int = INVENTORY_MAX_BYTES) -> PackageInventory:
    """The packages that fit in ``max_bytes`` of JSON, in name order; ``total`` still counts them all."""
    whole = full(inventory)
    kept: list[InstalledPackage] = []
    used = 0
    for row in whole.packages:
        used += len(row.model_dump_json()) + 1
        if used > max_bytes:
            break
        kept.append(row)
    return whole.model_copy(update={"packages": kept})
