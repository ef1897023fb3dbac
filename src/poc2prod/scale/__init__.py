"""Scale-out on Ray: the same gates when one machine is not enough.

Three places outgrow a machine, and each runs on Ray behind the same command with ``--backend ray``
(and ``--address`` for a running cluster; without it a local Ray instance is started):

* tuning (:mod:`._tune`): ``optimize`` trials run as Ray tasks sharing the project's Optuna study;
* serving (:mod:`._serve`): the same ASGI service as a Ray Serve deployment with N replicas;
* batch scoring (:mod:`._batch`): files read, scored and written by Ray Data.

:mod:`._cluster` connects and says what a cluster has (``poc2prod cluster status``). Ray is an
optional dependency (``pip install poc2prod[ray]``), imported only here and only when asked for.
"""

from poc2prod.scale._cluster import cluster_status, connect

__all__ = ["cluster_status", "connect"]
