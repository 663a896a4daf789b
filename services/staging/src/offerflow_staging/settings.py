from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from offerflow_shared import regionmap
from offerflow_shared.settings import CommonSettings, refuse_unsafe


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERFLOW_STAGING_", extra="ignore")

    web_port: int = Field(6067, ge=1, le=65535)
    # Runs in progress at once per worker. Boots themselves are queued one at a time per process (a VM takes about
    # a core), so more only lets downloads of the next run overlap a boot.
    concurrency: int = Field(1, ge=1, le=8)
    # The same region map as provisioning (offerflow_shared.regionmap): a replica's location resolves to one of
    # its endpoints and buckets, and the first region of the map holding a plan's OS disk is the one booted.
    region_map_file: Path | None = None
    # Replicas are downloaded here, booted (QEMU writes only to a throw-away overlay) and deleted; QEMU's pid
    # files and seed images live here too. Needs room for one OS disk per run in progress.
    work_dir: Path = Path("offerflow-staging-data")
    max_replica_bytes: int = Field(1024 * 1024**3 + 512, ge=1)  # the largest disk certification accepts
    download_timeout_seconds: float = Field(60.0, gt=0, le=3600)
    # False: a failed boot does not fail the run; its reports are kept and each failed check becomes a warning of
    # staging.passed. For environments whose test images are not bootable (the test suites' stack). Production
    # refuses it unless OFFERFLOW_ALLOW_UNSAFE names it.
    enforce: bool = True
    qemu_binary: str = Field("qemu-system-x86_64", min_length=1)
    memory_mib: int = Field(512, ge=128, le=16384)
    accelerator: Literal["auto", "tcg", "kvm"] = "auto"
    boot_timeout_seconds: float = Field(300.0, gt=0, le=3600)
    login_timeout_seconds: float = Field(60.0, gt=0, le=3600)
    user: str = Field("offerflow", pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    # Hard limit on one input of this step, retries included: a few queued boots of several plans at their own
    # time limit, with room to spare. Past it the boot is stopped (QEMU killed) and the run fails step-timed-out.
    step_timeout_seconds: float = Field(3 * 3600, gt=0, le=7 * 24 * 3600)
    common: CommonSettings = Field(default_factory=CommonSettings)
    _regions: regionmap.RegionMap | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _load_region_map(self) -> Settings:
        if self.region_map_file is None:
            raise ValueError("OFFERFLOW_STAGING_REGION_MAP_FILE is required: the region map provisioning writes "
                             "replicas with (see the provisioning README), to download the replicas to boot")
        self._regions = regionmap.load(self.region_map_file)
        if shutil.which(self.qemu_binary) is None:
            # Said at start, not at the first boot: a worker that cannot boot anything must not take inputs.
            raise ValueError(f"OFFERFLOW_STAGING_QEMU_BINARY={self.qemu_binary} is not installed (Debian: "
                             "apt-get install qemu-system-x86 qemu-utils openssh-client)")
        plaintext = any((r.endpoint_url or "").startswith("http://") for r in self._regions.regions)
        refuse_unsafe(self, self.common, {"region_map_file": plaintext, "enforce": not self.enforce})
        return self

    @property
    def regions(self) -> regionmap.RegionMap:
        assert self._regions is not None
        return self._regions

    @property
    def replicas_dir(self) -> Path:
        """Where downloads go: emptied at start (what a killed worker left is never a finished download)."""
        return self.work_dir / "replicas"

    @property
    def boots_dir(self) -> Path:
        return self.work_dir / "boots"
