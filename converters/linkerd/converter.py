"""The Linkerd converter plugin."""

from __future__ import annotations

from converters.linkerd.profile import convert_profile
from meshmigrate.registry import ConvertContext, Converter
from meshmigrate.sources import Document


class LinkerdConverter(Converter):
    """Linkerd ServiceProfiles (``linkerd.io`` v1alpha1, v1alpha2) -> route tables.

    v1alpha1 (Linkerd 2.1) had only ``routes`` with conditions and response classes;
    v1alpha2 added ``isRetryable``, ``timeout``, ``retryBudget`` and ``dstOverrides``. Both
    are read the same way: a field the version lacks is simply absent.
    """

    name = "linkerd"
    description = "Linkerd ServiceProfile (linkerd.io v1alpha1, v1alpha2)"
    kinds = {("linkerd.io", "ServiceProfile"): ("v1alpha1", "v1alpha2")}  # noqa: RUF012

    def convert(self, docs: list[Document], ctx: ConvertContext) -> None:
        for doc in docs:
            convert_profile(doc, ctx)
