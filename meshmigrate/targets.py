"""Target profiles: which Gateway API fields a conversion may emit.

The profile is decided by the implementation (``--target``), the Gateway API version
(``--gateway-api``) and the CRD channel (``--channel``). Facts from semantics.md §1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from meshmigrate.errors import UsageError

TARGETS = ("generic", "istio", "linkerd")
CHANNELS = ("standard", "experimental")
MIN_VERSION = (1, 2)
NEWEST_VERSION = (1, 7)
DEFAULT_VERSION = "v1.4"


@dataclass(frozen=True, slots=True)
class Profile:
    target: str
    version: tuple[int, int]
    channel: str

    @property
    def experimental(self) -> bool:
        return self.channel == "experimental"

    def at_least(self, major: int, minor: int) -> bool:
        return self.version >= (major, minor)

    # --- what may be emitted ------------------------------------------------------------
    @property
    def retry_field(self) -> bool:
        """HTTPRoute ``retry`` (GEP-1731): experimental from v1.2; Linkerd ignores it."""
        return self.experimental and self.target != "linkerd"

    @property
    def rule_names(self) -> bool:
        """Rule ``name`` (GEP-995): experimental v1.2, standard from v1.4. Linkerd 2.20
        ignores a whole resource using fields beyond Gateway API 1.2.1 (semantics §1)."""
        return (self.at_least(1, 4) or self.experimental) and self.target != "linkerd"

    @property
    def mirror_percent(self) -> bool:
        """RequestMirror percent/fraction (GEP-3171): experimental v1.2, standard v1.3."""
        return self.at_least(1, 3) or self.experimental

    @property
    def cors(self) -> bool:
        """CORS filter (GEP-1767): experimental v1.3, standard v1.5; not on Linkerd."""
        ok = self.at_least(1, 5) or (self.experimental and self.at_least(1, 3))
        return ok and self.target != "linkerd"

    @property
    def redirect_codes(self) -> tuple[int, ...]:
        """RequestRedirect statusCode enum: 301/302, plus 303/307/308 from v1.5."""
        return (301, 302, 303, 307, 308) if self.at_least(1, 5) else (301, 302)

    @property
    def url_rewrite(self) -> bool:
        """Linkerd's policy controller rejects URLRewrite on outbound routes."""
        return self.target != "linkerd"

    @property
    def request_mirror(self) -> bool:
        """Linkerd rejects RequestMirror on outbound routes."""
        return self.target != "linkerd"

    @property
    def timeouts_field(self) -> bool:
        """``timeouts`` is standard from v1.2. Linkerd takes timeouts as annotations."""
        return self.target != "linkerd"

    @property
    def annotations_for_policy(self) -> bool:
        """Linkerd: retries and timeouts as ``retry.linkerd.io``/``timeout.linkerd.io``."""
        return self.target == "linkerd"

    @property
    def keeps_source_default_retries(self) -> bool:
        """Istio's GAMMA path applies its default retry policy to HTTPRoutes too."""
        return self.target == "istio"

    @property
    def max_matches(self) -> int:
        return 64


def parse_version(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", text.strip())
    if not m:
        raise UsageError(f"--gateway-api {text!r}: expected a version like v1.4")
    version = (int(m.group(1)), int(m.group(2)))
    if not MIN_VERSION <= version <= NEWEST_VERSION:
        raise UsageError(f"--gateway-api {text}: supported versions are v1.2 to v1.7")
    return version


def make_profile(target: str = "generic", version: str = DEFAULT_VERSION,
                 channel: str = "standard") -> Profile:
    if target not in TARGETS:
        raise UsageError(f"--target {target!r}: expected one of {', '.join(TARGETS)}")
    if channel not in CHANNELS:
        raise UsageError(f"--channel {channel!r}: expected standard or experimental")
    return Profile(target, parse_version(version), channel)
