"""The region map: which object-store endpoint, bucket and credentials serve each region.

It is configuration, not code: the dev stack writes one for its local endpoints, and production points each
region at its real regional endpoint (AWS S3 in that region, or any S3-compatible store). The list order is the
replication order (provisioning) and the order in which staging looks for the replica it boots. Both services read
the same file, so a replica's location always resolves to an endpoint and bucket staging can reach.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

# S3 bucket naming rules (3-63 characters, lowercase letters, digits, dots and hyphens).
_BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


class RegionEndpoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    endpoint_url: str | None = Field(None, pattern=r"^https?://")  # None: the provider's default (AWS)
    bucket: str = Field(pattern=_BUCKET)
    signing_region: str = Field("us-east-1", min_length=1)
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None  # kept out of reprs and logs
    ca_file: Path | None = None  # a private CA (the dev stack's); None: the system trust store

    @property
    def shown(self) -> str:
        """Endpoint and bucket, as the status shows where a replica is (never credentials)."""
        return f"{(self.endpoint_url or 's3:/').rstrip('/')}/{self.bucket}"


class RegionMap(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    regions: list[RegionEndpoint] = Field(min_length=1)

    @field_validator("regions")
    @classmethod
    def _unique(cls, regions: list[RegionEndpoint]) -> list[RegionEndpoint]:
        names = [r.name for r in regions]
        if len(set(names)) != len(names):
            raise ValueError(f"a region is listed twice: {sorted(n for n in set(names) if names.count(n) > 1)}")
        return regions

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.regions]


def client_for(endpoint: RegionEndpoint, timeout: float, pool: int = 16) -> Any:
    """A boto3 S3 client of the region (thread-safe: one serves every transfer), the same for every reader and
    writer of replicas: path-style addressing, SigV4, the region's CA, checksums only where the API needs them."""
    import boto3  # here, not at the top: only the services that move replicas pay for importing it
    from botocore.config import Config

    secret = endpoint.secret_access_key
    return boto3.client(
        "s3", endpoint_url=endpoint.endpoint_url, region_name=endpoint.signing_region,
        aws_access_key_id=endpoint.access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        verify=str(endpoint.ca_file) if endpoint.ca_file else True,
        # boto3's own retries stay short: callers back off per region.
        config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2, "mode": "standard"},
                      signature_version="s3v4", max_pool_connections=pool,
                      s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                      response_checksum_validation="when_required"),
    )


class RegionMapError(ValueError):
    pass


def load(path: Path) -> RegionMap:
    """Read and validate the map; the error names the file and the first problem (never a secret)."""
    try:
        return RegionMap.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise RegionMapError(f"region map {path}: cannot be read ({exc.strerror})") from exc
    except ValueError as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else None
        where = "/".join(str(p) for p in first["loc"]) if first else ""
        detail = f"{where}: {first['msg']}" if first else str(exc)
        raise RegionMapError(f"region map {path}: {detail}") from None
