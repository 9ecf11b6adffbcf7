"""Live-cluster support: read sources, plan, server-side apply, wait, cut over, roll back.

Layout (the pipeline of one migration):

- :mod:`.objects`  – object references, content fingerprints, server-field stripping (pure)
- :mod:`.client`   – REST client over the official ``kubernetes`` package, discovery
- :mod:`.read`     – list the source kinds the installed converters claim (``--from-cluster``)
- :mod:`.plan`     – create / change / delete per object (pure)
- :mod:`.journal`  – the migration record, stored locally and in the cluster
- :mod:`.preflight`– kinds served and RBAC checked before anything changes
- :mod:`.apply`    – server-side apply of a plan, with automatic rollback on failure
- :mod:`.wait`     – wait for ``status.parents[].conditions`` Accepted=True
- :mod:`.cutover`  – delete the source routing objects, in the order each mesh needs
- :mod:`.rollback` – restore the exact prior state, refusing on concurrent edits
"""
