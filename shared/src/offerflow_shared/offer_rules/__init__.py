"""Pure rules of the VM offer document (no I/O), each returning ``list[Reason]`` with JSON pointers.

- ``format_problems(document)``: what PUT rejects with 400 (pointers into the whole document).
- ``publish_problems(definition, now=…)``: every rule at once, for the validation step and the editor
  (pointers into the definition). Logo pixel sizes need I/O: the validation service adds them.
- ``immutable_problems(live, new)``: changes forbidden once live.
- ``SECRET_FIELDS``, ``SECRET_PLACEHOLDER``, ``mask_secrets``, ``merge_secrets``: write-only lead secrets.
"""

from offerflow_shared.offer_rules.common import ptr
from offerflow_shared.offer_rules.formats import definition_format_problems, format_problems, screenshot_url
from offerflow_shared.offer_rules.immutable import immutable_problems
from offerflow_shared.offer_rules.leads import (
    CONFIG_KEYS,
    SEALED_PREFIX,
    SECRET_FIELDS,
    SECRET_PLACEHOLDER,
    configuration,
    destination,
    map_secrets,
    mask_secrets,
    merge_secrets,
    stand_in,
)
from offerflow_shared.offer_rules.publish import publish_problems

__all__ = [
    "CONFIG_KEYS",
    "SEALED_PREFIX",
    "SECRET_FIELDS",
    "SECRET_PLACEHOLDER",
    "configuration",
    "definition_format_problems",
    "destination",
    "format_problems",
    "immutable_problems",
    "map_secrets",
    "mask_secrets",
    "merge_secrets",
    "ptr",
    "publish_problems",
    "screenshot_url",
    "stand_in",
]
