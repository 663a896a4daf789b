from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from offerflow_shared import regionmap
from offerflow_shared.settings import CommonSettings, refuse_unsafe


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERFLOW_PROVISIONING_", extra="ignore")

    web_port: int = Field(6063, ge=1, le=65535)
    concurrency: int = Field(1, ge=1, le=64)
    # Region -> object-store endpoint, bucket, credentials (offerflow_shared.regionmap); its order is the
    # replication order. Required: there is no built-in default, a deployment names its regions.
    region_map_file: Path | None = None
    max_disk_bytes: int = Field(1024 * 1024**3 + 512, ge=1)  # a disk's bytes as read, like certification's limit
    part_mib: int = Field(8, ge=5, le=512)
    # Read every object back after upload: "auto" only when the storage reports no checksum of what it stored.
    readback: Literal["auto", "always", "never"] = "auto"
    timeout_seconds: float = Field(30.0, gt=0, le=600)
    # Disks fanned out at once per worker; each disk goes to every region at once.
    parallel_disks: int = Field(2, ge=1, le=16)
    copy_attempts: int = Field(4, ge=1, le=20)
    retry_delay_seconds: float = Field(2.0, ge=0, le=300)
    # Hard limit on one input of this step, retries included (the step's ETA with room to spare): past it
    # the handler is cancelled and the run fails with step-timed-out.
    step_timeout_seconds: float = Field(24 * 3600, gt=0, le=7 * 24 * 3600)
    common: CommonSettings = Field(default_factory=CommonSettings)
    _regions: regionmap.RegionMap | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _load_region_map(self) -> Settings:
        if self.region_map_file is None:
            raise ValueError("OFFERFLOW_PROVISIONING_REGION_MAP_FILE is required: a JSON file naming each region's "
                             "object-store endpoint, bucket and credentials (see the provisioning README)")
        self._regions = regionmap.load(self.region_map_file)
        plaintext = [r.name for r in self._regions.regions if (r.endpoint_url or "").startswith("http://")]
        refuse_unsafe(self, self.common, {"region_map_file": bool(plaintext)})
        return self

    @property
    def regions(self) -> regionmap.RegionMap:
        assert self._regions is not None
        return self._regions
